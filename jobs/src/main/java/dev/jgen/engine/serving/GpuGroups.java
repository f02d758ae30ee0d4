package dev.jgen.engine.serving;

import dev.jgen.engine.EngineSpec;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.SparkEnv;
import org.apache.spark.resource.ResourceInformation;

/** Which GPUs this executor owns, and how they split into one group per server. No code assumes GPU 0. */
final class GpuGroups {
  /** Explicit GPU addresses for launch mode when Spark schedules none (a single GPU host in local mode; tests). */
  static final String ADDRESSES_PROPERTY = "jgen.djl.gpu_addresses";

  private GpuGroups() {}

  /**
   * The executor's GPU addresses: option {@code gpu_addresses}, else the system property {@value #ADDRESSES_PROPERTY},
   * else the resources the executor was given by Spark (discovery script or the worker's assignment, read from the
   * executor backend), else null (unknown: servers then start per GPU group that tasks are pinned to).
   */
  static List<String> executorGpus(EngineSpec spec) {
    String explicit = spec.option("gpu_addresses", System.getProperty(ADDRESSES_PROPERTY, ""));
    if (explicit != null && !explicit.isBlank()) {
      return Arrays.stream(explicit.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }
    return fromExecutorBackend();
  }

  /**
   * The GPU addresses Spark assigned to this executor. Spark has no public API for the executor's (rather than the
   * task's) resources; CoarseGrainedExecutorBackend keeps them in a field it exposes under a Scala-mangled name, and
   * SparkEnv holds the backend. Anything unexpected here just means "unknown".
   */
  @SuppressWarnings("unchecked")
  static List<String> fromExecutorBackend() {
    try {
      SparkEnv env = SparkEnv.get();
      if (env == null || env.executorBackend().isEmpty()) {
        return null;
      }
      Object backend = env.executorBackend().get();
      for (Method m : backend.getClass().getMethods()) {
        if (m.getParameterCount() == 0 && m.getName().endsWith("_resources")
            && scala.collection.Map.class.isAssignableFrom(m.getReturnType())) {
          var resources = (scala.collection.Map<String, ResourceInformation>) m.invoke(backend);
          var gpu = resources.get("gpu");
          if (gpu.isDefined() && gpu.get().addresses().length > 0) {
            return List.of(gpu.get().addresses());
          }
        }
      }
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      // unknown: fall back to the tasks' addresses
    }
    return null;
  }

  /** Splits addresses (sorted numerically where they are numbers) into consecutive groups of {@code perServer}. */
  static List<List<String>> split(List<String> addresses, int perServer) {
    List<String> sorted = new ArrayList<>(addresses);
    sorted.sort(Comparator.comparing((String a) -> numeric(a) == null ? Integer.MAX_VALUE : numeric(a)).thenComparing(a -> a));
    if (sorted.size() < perServer) {
      throw new IllegalArgumentException("this executor has " + sorted.size() + " GPU(s) " + sorted
          + ", fewer than the " + perServer + " one server needs (engine.djl.gpus_per_server / tensor_parallel_degree)");
    }
    List<List<String>> groups = new ArrayList<>();
    for (int i = 0; i + perServer <= sorted.size(); i += perServer) {
      groups.add(List.copyOf(sorted.subList(i, i + perServer)));
    }
    return groups; // a remainder smaller than a group stays unused: a server needs all its tensor-parallel GPUs
  }

  /**
   * When the executor's set is unknown: the group of a task's address, as the aligned block of {@code perServer}
   * consecutive numbers holding it (address 5 with 2 per server: 4,5). A non-numeric address is its own group.
   */
  static List<String> alignedGroup(String address, int perServer) {
    Integer n = numeric(address);
    if (n == null || perServer <= 1) {
      return List.of(address);
    }
    int first = n - Math.floorMod(n, perServer);
    List<String> g = new ArrayList<>();
    for (int i = 0; i < perServer; i++) {
      g.add(String.valueOf(first + i));
    }
    return g;
  }

  static Integer numeric(String address) {
    try {
      return Integer.parseInt(address.trim());
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
