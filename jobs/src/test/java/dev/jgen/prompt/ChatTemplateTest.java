package dev.jgen.prompt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jgen.prompt.jinja.TemplateException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {

  @Test
  void contextMatchesApplyChatTemplate() {
    ChatTemplate t = ChatTemplate.compile("{{ bos_token }}|{{ tools }}|{{ documents }}|{{ add_generation_prompt }}"
        + "|{{ messages[0].extra }}|{{ lang }}");
    Map<String, Object> msg = new LinkedHashMap<>();
    msg.put("role", "user");
    msg.put("content", "hi");
    msg.put("extra", 3);
    assertEquals("<s>|None|None|True|3|ja",
        t.render(List.of(msg), true, Map.of("bos_token", "<s>"), null, Map.of("lang", "ja")));
    // kwargs win over special tokens and the standard variables, as with {**special_tokens, ..., **kwargs}
    assertEquals("X|[1]|None|False|3|",
        t.render(List.of(msg), false, Map.of("bos_token", "<s>"), List.of(1), Map.of("bos_token", "X")));
  }

  @Test
  void sha256OfUtf8Source() {
    // sha256("abc")
    assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ChatTemplate.compile("abc").sha256());
    assertEquals("abc", ChatTemplate.compile("abc").source());
  }

  @Test
  void syntaxErrorOnCompile() {
    TemplateException e = assertThrows(TemplateException.class, () -> ChatTemplate.compile("{% if x %}"));
    assertEquals("TemplateSyntaxError", e.kind());
  }
}
