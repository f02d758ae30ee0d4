package dev.jgen.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jgen.cli.Main;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * A child JVM that runs jgen commands one after another, as a scheduler's repeated jobs would, without a cold start
 * each: one line on stdin (the arguments, tab-separated) runs {@link Main#run} in this process; one JSON line on stdout
 * answers ({@code code}, {@code out}, {@code err}). Tests that race several real processes for the same run start a
 * few of these once and send each round's command to all of them at the same moment.
 */
public final class JobServer {
  private JobServer() {}

  public static void main(String[] argv) throws Exception {
    // Main's own output is captured per command; replies go to the real stdout, which nothing else writes to.
    PrintStream reply = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    System.setOut(System.err);
    ObjectMapper json = new ObjectMapper();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    reply.println("{\"ready\":true,\"pid\":" + ProcessHandle.current().pid() + "}");
    for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      int code;
      try {
        code = Main.run(line.split("\t"), new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
      } catch (Throwable t) {
        code = 99;
        err.write(("JobServer: " + t).getBytes(StandardCharsets.UTF_8));
      }
      ObjectNode o = json.createObjectNode();
      o.put("code", code);
      o.put("out", out.toString(StandardCharsets.UTF_8));
      o.put("err", err.toString(StandardCharsets.UTF_8));
      reply.println(json.writeValueAsString(o));
    }
  }
}
