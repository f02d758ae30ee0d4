package dev.jgen.cli;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/**
 * The JVM's heap in use right after each garbage collection, at its highest since {@link #watch()}: what the job kept
 * alive (a partition collected to the driver shows here), unlike the sum of each pool's own peak, which adds up garbage
 * of pools that peak at different moments. Read from HotSpot's GC notifications; the heap of the moment stands in when
 * no collection has run yet.
 */
final class HeapAfterGc {
  private static final AtomicLong PEAK = new AtomicLong();
  private static volatile boolean watching;

  private HeapAfterGc() {}

  static synchronized void watch() {
    if (watching) {
      return;
    }
    watching = true;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      if (gc instanceof NotificationEmitter emitter) {
        emitter.addNotificationListener((n, handback) -> {
          if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
            var info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
            long used = 0;
            for (Map.Entry<String, MemoryUsage> pool : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
              if (isHeap(pool.getKey())) {
                used += pool.getValue().getUsed();
              }
            }
            PEAK.accumulateAndGet(used, Math::max);
          }
        }, null, null);
      }
    }
  }

  /** The heap pools' names, read once (a pool's type never changes). */
  private static final java.util.Set<String> HEAP_POOLS = ManagementFactory.getMemoryPoolMXBeans().stream()
      .filter(p -> p.getType() == MemoryType.HEAP).map(java.lang.management.MemoryPoolMXBean::getName)
      .collect(java.util.stream.Collectors.toUnmodifiableSet());

  private static boolean isHeap(String pool) {
    return HEAP_POOLS.contains(pool);
  }

  /** The peak in MiB (the heap now when no collection has been seen). */
  static long peakMb() {
    long peak = PEAK.get();
    if (peak == 0) {
      peak = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
    return peak >> 20;
  }
}
