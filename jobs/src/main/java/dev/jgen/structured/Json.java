package dev.jgen.structured;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * Strict JSON for constraints and outputs, on Jackson 3 (the JSON Schema library's own tree model): a duplicate key or
 * trailing text after the value is an error, and decimals keep their digits (1.50 stays 1.50).
 */
final class Json {
  static final JsonMapper MAPPER = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .build();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private Json() {}

  /** @throws JacksonException on text that is not exactly one JSON value */
  static JsonNode parse(String text) {
    return MAPPER.readTree(text);
  }

  /** Compact JSON with every object's keys sorted: one text per value, whatever the spelling or member order. */
  static String sorted(String json) {
    return MAPPER.writeValueAsString(sorted(parse(json)));
  }

  /** Compact JSON in the value's own member order: whitespace, escapes and number spellings normalized. */
  static String compact(JsonNode node) {
    return MAPPER.writeValueAsString(node);
  }

  private static JsonNode sorted(JsonNode node) {
    if (node.isObject()) {
      ObjectNode out = NODES.objectNode();
      TreeMap<String, JsonNode> byKey = new TreeMap<>();
      for (Map.Entry<String, JsonNode> e : node.properties()) {
        byKey.put(e.getKey(), e.getValue());
      }
      byKey.forEach((k, v) -> out.set(k, sorted(v)));
      return out;
    }
    if (node.isArray()) {
      ArrayNode out = NODES.arrayNode();
      node.values().forEach(v -> out.add(sorted(v)));
      return out;
    }
    return node;
  }

  /** A tree from YAML/Java values (maps, lists, strings, numbers, booleans, null). */
  static JsonNode fromPlain(Object v) {
    if (v == null) {
      return NODES.nullNode();
    }
    if (v instanceof Map<?, ?> m) {
      ObjectNode o = NODES.objectNode();
      m.forEach((k, x) -> o.set(String.valueOf(k), fromPlain(x)));
      return o;
    }
    if (v instanceof List<?> l) {
      ArrayNode a = NODES.arrayNode();
      l.forEach(x -> a.add(fromPlain(x)));
      return a;
    }
    if (v instanceof String s) {
      return NODES.stringNode(s);
    }
    if (v instanceof Boolean b) {
      return NODES.booleanNode(b);
    }
    if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
      return NODES.numberNode(((Number) v).longValue());
    }
    if (v instanceof BigInteger b) {
      return NODES.numberNode(b);
    }
    if (v instanceof BigDecimal b) {
      return NODES.numberNode(b);
    }
    if (v instanceof Number n) {
      return NODES.numberNode(new BigDecimal(n.toString()));
    }
    throw new IllegalArgumentException("not a JSON value: " + v.getClass().getSimpleName());
  }

  /** Plain Java values (LinkedHashMap, ArrayList, String, Number, Boolean, null) from a tree. */
  static Object toPlain(JsonNode n) {
    if (n.isObject()) {
      Map<String, Object> m = new LinkedHashMap<>();
      n.properties().forEach(e -> m.put(e.getKey(), toPlain(e.getValue())));
      return m;
    }
    if (n.isArray()) {
      List<Object> l = new ArrayList<>();
      n.values().forEach(x -> l.add(toPlain(x)));
      return l;
    }
    if (n.isString()) {
      return n.stringValue();
    }
    if (n.isBoolean()) {
      return n.booleanValue();
    }
    if (n.isIntegralNumber()) {
      return n.canConvertToLong() ? (Object) n.longValue() : n.bigIntegerValue();
    }
    if (n.isNumber()) {
      return n.decimalValue();
    }
    return null;
  }

  /** The parser's message without Jackson's source excerpt: first line, with its line/column. */
  static String shortMessage(JacksonException e) {
    String msg = e.getOriginalMessage() == null ? String.valueOf(e.getMessage()) : e.getOriginalMessage();
    msg = msg.lines().findFirst().orElse(msg);
    // Jackson names the source (REDACTED by default) inside the message: the line/column below says where instead.
    msg = msg.replaceAll("\\s*\\(start marker at \\[Source:.*$", "").replaceAll("\\s*\\[Source: [^\\]]*\\]", "");
    if (e.getLocation() != null && e.getLocation().getLineNr() > 0) {
      msg += " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
    }
    return msg;
  }
}
