package dev.jgen.prompt.jinja;

import dev.jgen.prompt.jinja.Lexer.Token;
import dev.jgen.prompt.jinja.Lexer.Type;
import dev.jgen.prompt.jinja.Nodes.CallArgs;
import dev.jgen.prompt.jinja.Nodes.Expr;
import dev.jgen.prompt.jinja.Nodes.Stmt;
import dev.jgen.prompt.jinja.Nodes.Target;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;

/**
 * Recursive-descent parser following {@code jinja2/parser.py} method by method, so operator precedence matches
 * Jinja exactly: {@code not a in b} is {@code not (a in b)}, filters and {@code is} tests bind tighter than
 * arithmetic, {@code **} is left-associative, and an if-statement's test is parsed without an inline if.
 */
final class Parser {
  private static final Set<String> COMPARE_OPS = Set.of("==", "!=", "<", "<=", ">", ">=");

  private final List<Token> tokens;
  private int p;
  private final Deque<String[]> endTokenStack = new ArrayDeque<>();
  private final Deque<String> tagStack = new ArrayDeque<>();
  /** Jinja reports unknown filters/tests at compile time except in "soft" frames (if bodies, inline ifs). */
  private boolean soft;
  private int loopDepth;
  /**
   * One set per macro or call block being parsed: which of caller/kwargs/varargs its body reads. Jinja's compiler
   * (compiler.py macro_body, find_undeclared) decides from these whether the macro accepts extra keyword or
   * positional arguments and a caller; like its visitor, a read inside a nested macro counts for the outer ones too.
   */
  private final Deque<Set<String>> macroReads = new ArrayDeque<>();

  private Parser(List<Token> tokens) {
    this.tokens = tokens;
  }

  static List<Stmt> parse(String source) {
    Parser ps = new Parser(Lexer.tokenize(source));
    return ps.subparse(null);
  }

  // ---------------------------------------------------------------- token stream

  private Token cur() {
    return tokens.get(p);
  }

  private Token look() {
    return tokens.get(Math.min(p + 1, tokens.size() - 1));
  }

  private Token next() {
    Token t = tokens.get(p);
    if (p < tokens.size() - 1) {
      p++;
    }
    return t;
  }

  private static TemplateException fail(String msg, int line) {
    return Errors.syntax(msg, line);
  }

  private Token expectOp(String op) {
    Token t = cur();
    if (!t.isOp(op)) {
      if (t.type == Type.EOF) {
        throw failEof();
      }
      throw fail("expected token '" + op + "', got '" + t.describe() + "'", t.line);
    }
    return next();
  }

  private Token expectName(String name) {
    Token t = cur();
    if (!t.isName(name)) {
      if (t.type == Type.EOF) {
        throw failEof();
      }
      throw fail("expected token '" + name + "', got '" + t.describe() + "'", t.line);
    }
    return next();
  }

  private Token expectType(Type type, String what) {
    Token t = cur();
    if (t.type != type) {
      if (t.type == Type.EOF) {
        throw failEof();
      }
      throw fail("expected token '" + what + "', got '" + t.describe() + "'", t.line);
    }
    return next();
  }

  private Token expectAnyName() {
    return expectType(Type.NAME, "name");
  }

  private void expectBlockEnd() {
    expectType(Type.BLOCK_END, "end of statement block");
  }

  private boolean skipOp(String op) {
    if (cur().isOp(op)) {
      next();
      return true;
    }
    return false;
  }

  private boolean skipName(String name) {
    if (cur().isName(name)) {
      next();
      return true;
    }
    return false;
  }

  private TemplateException failEof() {
    StringBuilder sb = new StringBuilder("Unexpected end of template.");
    appendLookingFor(sb);
    return Errors.syntax(sb.toString(), cur().line);
  }

  private void appendLookingFor(StringBuilder sb) {
    List<String> expected = new ArrayList<>();
    for (String[] ends : endTokenStack) {
      for (String e : ends) {
        expected.add("'" + e + "'");
      }
    }
    if (!endTokenStack.isEmpty()) {
      String[] top = endTokenStack.peek();
      List<String> topQuoted = new ArrayList<>();
      for (String e : top) {
        topQuoted.add("'" + e + "'");
      }
      sb.append(" Jinja was looking for the following tags: ").append(String.join(" or ", topQuoted)).append('.');
    }
    if (!tagStack.isEmpty()) {
      sb.append(" The innermost block that needs to be closed is '").append(tagStack.peek()).append("'.");
    }
  }

  // ---------------------------------------------------------------- template structure

  private List<Stmt> subparse(String[] endTokens) {
    List<Stmt> body = new ArrayList<>();
    if (endTokens != null) {
      endTokenStack.push(endTokens);
    }
    try {
      while (cur().type != Type.EOF) {
        Token t = cur();
        if (t.type == Type.DATA) {
          body.add(new Nodes.Text(t.line, t.value));
          next();
        } else if (t.type == Type.VAR_BEGIN) {
          next();
          Expr e = parseTuple(false, true, null, false);
          body.add(new Nodes.Output(t.line, e));
          expectType(Type.VAR_END, "end of print statement");
        } else if (t.type == Type.BLOCK_BEGIN) {
          next();
          if (endTokens != null && cur().type == Type.NAME) {
            for (String e : endTokens) {
              if (cur().value.equals(e)) {
                return body;
              }
            }
          }
          Stmt s = parseStatement();
          if (s != null) {
            body.add(s);
          }
          expectBlockEnd();
        } else {
          throw fail("unexpected '" + t.describe() + "'", t.line);
        }
      }
      if (endTokens != null) {
        throw failEof();
      }
      return body;
    } finally {
      if (endTokens != null) {
        endTokenStack.pop();
      }
    }
  }

  private List<Stmt> parseStatements(String[] endTokens, boolean dropNeedle) {
    skipOp(":");
    expectBlockEnd();
    List<Stmt> body = subparse(endTokens);
    if (dropNeedle) {
      next();
    }
    return body;
  }

  private Stmt parseStatement() {
    Token t = cur();
    if (t.type != Type.NAME) {
      throw fail("tag name expected", t.line);
    }
    tagStack.push(t.value);
    boolean popTag = true;
    try {
      switch (t.value) {
        case "for": return parseFor();
        case "if": return parseIf();
        case "set": return parseSet();
        case "macro": return parseMacro();
        case "with": return parseWith();
        case "filter": return parseFilterBlock();
        case "block": return parseBlock();
        case "print": return parsePrint();
        case "call": return parseCallBlock();
        case "generation": return parseGeneration();
        case "autoescape": {
          next();
          parseExpression(true);
          return new Nodes.With(t.line, List.of(), List.of(), parseStatements(new String[] {"endautoescape"}, true));
        }
        case "break":
        case "continue": {
          next();
          if (loopDepth == 0) {
            throw fail("'" + t.value + "' outside of a loop", t.line);
          }
          return new Nodes.LoopControl(t.line, t.value.equals("break") ? Nodes.BREAK : Nodes.CONTINUE);
        }
        case "extends":
        case "include":
        case "import":
        case "from":
          throw fail("the '" + t.value + "' tag is not supported in chat templates", t.line);
        default: {
          tagStack.pop();
          popTag = false;
          StringBuilder sb = new StringBuilder("Encountered unknown tag '" + t.value + "'.");
          appendLookingFor(sb);
          throw Errors.syntax(sb.toString(), t.line);
        }
      }
    } finally {
      if (popTag) {
        tagStack.pop();
      }
    }
  }

  private Stmt parseFor() {
    int line = expectName("for").line;
    Target target = parseAssignTarget(true, false, "in", false);
    expectName("in");
    Expr iter = parseTuple(false, false, "recursive", false);
    Expr filter = null;
    boolean savedSoft = soft;
    soft = false;
    try {
      if (skipName("if")) {
        filter = parseExpression(true);
      }
      if (skipName("recursive")) {
        throw fail("recursive loops are not supported", line);
      }
      loopDepth++;
      List<Stmt> body;
      try {
        body = parseStatements(new String[] {"endfor", "else"}, false);
      } finally {
        loopDepth--;
      }
      List<Stmt> orelse = List.of();
      if (next().value.equals("else")) {
        orelse = parseStatements(new String[] {"endfor"}, true);
      }
      return new Nodes.For(line, target, iter, filter, body, orelse);
    } finally {
      soft = savedSoft;
    }
  }

  private Stmt parseIf() {
    return parseIfChain(expectName("if").line);
  }

  /** The test and branches after an {@code if} or {@code elif} keyword; an elif is a nested If in the else branch. */
  private Stmt parseIfChain(int line) {
    boolean savedSoft = soft;
    soft = true;
    try {
      Expr test = parseTuple(false, false, null, false);
      List<Stmt> body = parseStatements(new String[] {"elif", "else", "endif"}, false);
      Token t = next();
      List<Stmt> orelse = List.of();
      if (t.value.equals("elif")) {
        orelse = List.of(parseIfChain(t.line));
      } else if (t.value.equals("else")) {
        orelse = parseStatements(new String[] {"endif"}, true);
      }
      return new Nodes.If(line, test, body, orelse);
    } finally {
      soft = savedSoft;
    }
  }

  private Stmt parseSet() {
    int line = next().line;
    Target target = parseAssignTarget(true, false, null, true);
    if (skipOp("=")) {
      return new Nodes.Assign(line, target, parseTuple(false, true, null, false));
    }
    Nodes.FilterExpr filter = cur().isOp("|") ? (Nodes.FilterExpr) parseFilter(null, false) : null;
    boolean savedSoft = soft;
    soft = false;
    try {
      List<Stmt> body = parseStatements(new String[] {"endset"}, true);
      return new Nodes.AssignBlock(line, target, body, filter);
    } finally {
      soft = savedSoft;
    }
  }

  private Stmt parseMacro() {
    int line = next().line;
    String name = expectAnyName().value;
    List<String> params = new ArrayList<>();
    List<Expr> defaults = new ArrayList<>();
    parseSignature(params, defaults);
    return parseMacroBody(line, name, params, defaults, "endmacro");
  }

  /** jinja2 parser.py parse_signature: {@code (a, b=1)}; a non-default parameter may not follow a default one. */
  private void parseSignature(List<String> params, List<Expr> defaults) {
    expectOp("(");
    boolean sawDefault = false;
    while (!cur().isOp(")")) {
      if (!params.isEmpty()) {
        expectOp(",");
      }
      String param = expectAnyName().value;
      if (skipOp("=")) {
        defaults.add(parseExpression(true));
        sawDefault = true;
      } else {
        if (sawDefault) {
          throw fail("non-default argument follows default argument", cur().line);
        }
        defaults.add(null);
      }
      params.add(param);
    }
    expectOp(")");
  }

  private Nodes.MacroDef parseMacroBody(int line, String name, List<String> params, List<Expr> defaults, String end) {
    boolean savedSoft = soft;
    int savedLoops = loopDepth;
    soft = false;
    loopDepth = 0;
    Set<String> reads = new java.util.HashSet<>();
    macroReads.push(reads);
    try {
      List<Stmt> body = parseStatements(new String[] {end}, true);
      int callerAt = params.indexOf("caller");
      if (reads.contains("caller") && callerAt >= 0 && defaults.get(callerAt) == null) {
        // compiler.py macro_body: an explicit caller parameter must have a default
        throw fail("When defining macros or call blocks the special \"caller\" argument must be omitted or be given"
            + " a default.", line);
      }
      return new Nodes.MacroDef(line, name, params, defaults, body, reads.contains("caller"),
          reads.contains("kwargs") && !params.contains("kwargs"), reads.contains("varargs") && !params.contains("varargs"));
    } finally {
      macroReads.pop();
      soft = savedSoft;
      loopDepth = savedLoops;
    }
  }

  /**
   * {@code {% call(args) m(...) %}body{% endcall %}} (jinja2 parser.py parse_call_block, compiler.py visit_CallBlock):
   * the body becomes an anonymous macro passed to the call as the keyword argument {@code caller}.
   */
  private Stmt parseCallBlock() {
    int line = next().line;
    List<String> params = new ArrayList<>();
    List<Expr> defaults = new ArrayList<>();
    if (cur().isOp("(")) {
      parseSignature(params, defaults);
    }
    Expr call = parseExpression(true);
    if (!(call instanceof Nodes.Call)) {
      throw fail("expected call", line);
    }
    Nodes.MacroDef caller = parseMacroBody(line, null, params, defaults, "endcall");
    return new Nodes.CallBlock(line, (Nodes.Call) call, caller);
  }

  /**
   * transformers' AssistantTracker extension (chat_template_utils.py): {@code {% generation %}...{% endgeneration %}}
   * parses to a CallBlock whose macro returns {@code caller()} unchanged, so the body renders as is, in a scope of its
   * own (a set inside does not leak out, as in any call block).
   */
  private Stmt parseGeneration() {
    int line = next().line;
    Nodes.MacroDef body = parseMacroBody(line, null, new ArrayList<>(), new ArrayList<>(), "endgeneration");
    return new Nodes.Generation(line, body);
  }

  private Stmt parseWith() {
    int line = next().line;
    List<Target> targets = new ArrayList<>();
    List<Expr> values = new ArrayList<>();
    while (cur().type != Type.BLOCK_END) {
      if (!targets.isEmpty()) {
        expectOp(",");
      }
      targets.add(parseAssignTarget(true, false, null, false));
      expectOp("=");
      values.add(parseExpression(true));
    }
    boolean savedSoft = soft;
    soft = false;
    try {
      return new Nodes.With(line, targets, values, parseStatements(new String[] {"endwith"}, true));
    } finally {
      soft = savedSoft;
    }
  }

  private Stmt parseFilterBlock() {
    int line = next().line;
    Nodes.FilterExpr filter = (Nodes.FilterExpr) parseFilter(null, true);
    return new Nodes.FilterBlock(line, filter, parseStatements(new String[] {"endfilter"}, true));
  }

  private Stmt parseBlock() {
    int line = next().line;
    String name = expectAnyName().value;
    skipName("scoped");
    skipName("required");
    List<Stmt> body = parseStatements(new String[] {"endblock"}, true);
    if (cur().type == Type.NAME) {
      Token t = next();
      if (!t.value.equals(name)) {
        throw fail("'" + name + "' block ends with a different name", t.line);
      }
    }
    return new Nodes.With(line, List.of(), List.of(), body);
  }

  private Stmt parsePrint() {
    int line = next().line;
    List<Expr> items = new ArrayList<>();
    while (cur().type != Type.BLOCK_END) {
      if (!items.isEmpty()) {
        expectOp(",");
      }
      items.add(parseExpression(true));
    }
    List<Stmt> out = new ArrayList<>();
    for (Expr e : items) {
      out.add(new Nodes.Output(line, e));
    }
    return new Nodes.With(line, List.of(), List.of(), out);
  }

  private Target parseAssignTarget(boolean withTuple, boolean nameOnly, String extraEnd, boolean withNamespace) {
    Token t = cur();
    if (withNamespace && look().isOp(".")) {
      String name = expectAnyName().value;
      next();
      String attr = expectAnyName().value;
      return new Nodes.NsTarget(name, attr);
    }
    if (nameOnly) {
      return new Nodes.NameTarget(expectAnyName().value);
    }
    Expr e = withTuple ? parseTuple(true, true, extraEnd, false) : parsePrimary();
    return toTarget(e, t.line);
  }

  private Target toTarget(Expr e, int line) {
    if (e instanceof Nodes.Name) {
      String n = ((Nodes.Name) e).name;
      return new Nodes.NameTarget(n);
    }
    if (e instanceof Nodes.ListLit && ((Nodes.ListLit) e).tuple) {
      List<Target> items = new ArrayList<>();
      for (Expr x : ((Nodes.ListLit) e).items) {
        items.add(toTarget(x, line));
      }
      return new Nodes.TupleTarget(items);
    }
    String kind = e instanceof Nodes.Const ? "const" : e.getClass().getSimpleName().toLowerCase();
    throw fail("can't assign to '" + kind + "'", line);
  }

  // ---------------------------------------------------------------- expressions

  private boolean isTupleEnd(String extraEnd) {
    Token t = cur();
    if (t.type == Type.VAR_END || t.type == Type.BLOCK_END || t.isOp(")")) {
      return true;
    }
    return extraEnd != null && t.isName(extraEnd);
  }

  private Expr parseTuple(boolean simplified, boolean withCondexpr, String extraEnd, boolean explicitParens) {
    int line = cur().line;
    List<Expr> args = new ArrayList<>();
    boolean isTuple = false;
    while (true) {
      if (!args.isEmpty()) {
        expectOp(",");
      }
      if (isTupleEnd(extraEnd)) {
        break;
      }
      args.add(simplified ? parsePrimary() : parseExpression(withCondexpr));
      if (cur().isOp(",")) {
        isTuple = true;
      } else {
        break;
      }
    }
    if (!isTuple) {
      if (!args.isEmpty()) {
        return args.get(0);
      }
      if (!explicitParens) {
        Token t = cur();
        if (t.type == Type.EOF) {
          throw failEof();
        }
        throw fail("Expected an expression, got '" + t.describe() + "'", t.line);
      }
    }
    return new Nodes.ListLit(line, args, true);
  }

  private Expr parseExpression(boolean withCondexpr) {
    return withCondexpr ? parseCondexpr() : parseOr();
  }

  private Expr parseCondexpr() {
    int line = cur().line;
    Expr expr1 = parseOr();
    while (skipName("if")) {
      boolean savedSoft = soft;
      Expr expr2 = parseOr();
      Expr expr3 = null;
      if (skipName("else")) {
        soft = true;
        try {
          expr3 = parseCondexpr();
        } finally {
          soft = savedSoft;
        }
      }
      expr1 = new Nodes.CondExpr(line, expr2, expr1, expr3);
    }
    return expr1;
  }

  private Expr parseOr() {
    int line = cur().line;
    Expr left = parseAnd();
    while (skipName("or")) {
      left = new Nodes.Or(line, left, parseAnd());
    }
    return left;
  }

  private Expr parseAnd() {
    int line = cur().line;
    Expr left = parseNot();
    while (skipName("and")) {
      left = new Nodes.And(line, left, parseNot());
    }
    return left;
  }

  private Expr parseNot() {
    if (cur().isName("not")) {
      int line = next().line;
      return new Nodes.Not(line, parseNot());
    }
    return parseCompare();
  }

  private Expr parseCompare() {
    int line = cur().line;
    Expr expr = parseMath1();
    List<String> ops = new ArrayList<>();
    List<Expr> rest = new ArrayList<>();
    while (true) {
      Token t = cur();
      if (t.type == Type.OP && COMPARE_OPS.contains(t.value)) {
        next();
        ops.add(t.value);
        rest.add(parseMath1());
      } else if (skipName("in")) {
        ops.add("in");
        rest.add(parseMath1());
      } else if (t.isName("not") && look().isName("in")) {
        next();
        next();
        ops.add("notin");
        rest.add(parseMath1());
      } else {
        break;
      }
    }
    return ops.isEmpty() ? expr : new Nodes.Compare(line, expr, ops, rest);
  }

  private Expr parseMath1() {
    int line = cur().line;
    Expr left = parseConcat();
    while (cur().isOp("+") || cur().isOp("-")) {
      String op = next().value;
      left = new Nodes.BinOp(line, op, left, parseConcat());
    }
    return left;
  }

  private Expr parseConcat() {
    int line = cur().line;
    List<Expr> args = new ArrayList<>();
    args.add(parseMath2());
    while (skipOp("~")) {
      args.add(parseMath2());
    }
    return args.size() == 1 ? args.get(0) : new Nodes.Concat(line, args);
  }

  private Expr parseMath2() {
    int line = cur().line;
    Expr left = parsePow();
    while (cur().isOp("*") || cur().isOp("/") || cur().isOp("//") || cur().isOp("%")) {
      String op = next().value;
      left = new Nodes.BinOp(line, op, left, parsePow());
    }
    return left;
  }

  private Expr parsePow() {
    int line = cur().line;
    Expr left = parseUnary(true);
    while (skipOp("**")) {
      left = new Nodes.BinOp(line, "**", left, parseUnary(true));
    }
    return left;
  }

  private Expr parseUnary(boolean withFilter) {
    Token t = cur();
    Expr node;
    if (t.isOp("-")) {
      next();
      node = new Nodes.Unary(t.line, true, parseUnary(false));
    } else if (t.isOp("+")) {
      next();
      node = new Nodes.Unary(t.line, false, parseUnary(false));
    } else {
      node = parsePrimary();
    }
    node = parsePostfix(node);
    if (withFilter) {
      node = parseFilterExpr(node);
    }
    return node;
  }

  private Expr parsePrimary() {
    Token t = cur();
    switch (t.type) {
      case NAME: {
        next();
        switch (t.value) {
          case "true":
          case "True": return new Nodes.Const(t.line, Boolean.TRUE);
          case "false":
          case "False": return new Nodes.Const(t.line, Boolean.FALSE);
          case "none":
          case "None": return new Nodes.Const(t.line, null);
          default:
            if (t.value.equals("caller") || t.value.equals("kwargs") || t.value.equals("varargs")) {
              for (Set<String> reads : macroReads) {
                reads.add(t.value);
              }
            }
            return new Nodes.Name(t.line, t.value);
        }
      }
      case STRING: {
        next();
        StringBuilder sb = new StringBuilder((String) t.literal);
        while (cur().type == Type.STRING) {
          sb.append((String) next().literal);
        }
        return new Nodes.Const(t.line, sb.toString());
      }
      case INT:
      case FLOAT:
        next();
        return new Nodes.Const(t.line, t.literal);
      case OP:
        if (t.value.equals("(")) {
          next();
          Expr e = parseTuple(false, true, null, true);
          expectOp(")");
          return e;
        }
        if (t.value.equals("[")) {
          return parseList();
        }
        if (t.value.equals("{")) {
          return parseDict();
        }
        throw fail("unexpected '" + t.describe() + "'", t.line);
      case EOF:
        throw failEof();
      default:
        throw fail("unexpected '" + t.describe() + "'", t.line);
    }
  }

  private Expr parseList() {
    int line = expectOp("[").line;
    List<Expr> items = new ArrayList<>();
    while (!cur().isOp("]")) {
      if (!items.isEmpty()) {
        expectOp(",");
      }
      if (cur().isOp("]")) {
        break;
      }
      items.add(parseExpression(true));
    }
    expectOp("]");
    return new Nodes.ListLit(line, items, false);
  }

  private Expr parseDict() {
    int line = expectOp("{").line;
    List<Expr> keys = new ArrayList<>();
    List<Expr> values = new ArrayList<>();
    while (!cur().isOp("}")) {
      if (!keys.isEmpty()) {
        expectOp(",");
      }
      if (cur().isOp("}")) {
        break;
      }
      keys.add(parseExpression(true));
      expectOp(":");
      values.add(parseExpression(true));
    }
    expectOp("}");
    return new Nodes.DictLit(line, keys, values);
  }

  private Expr parsePostfix(Expr node) {
    while (true) {
      Token t = cur();
      if (t.isOp(".") || t.isOp("[")) {
        node = parseSubscript(node);
      } else if (t.isOp("(")) {
        node = new Nodes.Call(t.line, node, parseCallArgs());
      } else {
        return node;
      }
    }
  }

  private Expr parseFilterExpr(Expr node) {
    while (true) {
      Token t = cur();
      if (t.isOp("|")) {
        node = parseFilter(node, false);
      } else if (t.isName("is")) {
        node = parseTest(node);
      } else if (t.isOp("(")) {
        node = new Nodes.Call(t.line, node, parseCallArgs());
      } else {
        return node;
      }
    }
  }

  private Expr parseSubscript(Expr node) {
    Token t = next();
    if (t.isOp(".")) {
      Token attr = next();
      if (attr.type == Type.NAME) {
        return new Nodes.GetAttr(t.line, node, attr.value);
      }
      if (attr.type != Type.INT) {
        throw fail("expected name or number", attr.line);
      }
      return new Nodes.GetItem(t.line, node, new Nodes.Const(attr.line, attr.literal));
    }
    List<Expr> args = new ArrayList<>();
    while (!cur().isOp("]")) {
      if (!args.isEmpty()) {
        expectOp(",");
      }
      args.add(parseSubscribed());
    }
    expectOp("]");
    Expr key = args.size() == 1 ? args.get(0) : new Nodes.ListLit(t.line, args, true);
    return new Nodes.GetItem(t.line, node, key);
  }

  private Expr parseSubscribed() {
    int line = cur().line;
    Expr start = null;
    if (cur().isOp(":")) {
      next();
    } else {
      Expr e = parseExpression(true);
      if (!cur().isOp(":")) {
        return e;
      }
      next();
      start = e;
    }
    Expr stop = null;
    if (!cur().isOp(":") && !cur().isOp("]") && !cur().isOp(",")) {
      stop = parseExpression(true);
    }
    Expr step = null;
    if (cur().isOp(":")) {
      next();
      if (!cur().isOp("]") && !cur().isOp(",")) {
        step = parseExpression(true);
      }
    }
    return new Nodes.SliceExpr(line, start, stop, step);
  }

  private CallArgs parseCallArgs() {
    expectOp("(");
    List<Expr> args = new ArrayList<>();
    List<String> kwNames = new ArrayList<>();
    List<Expr> kwValues = new ArrayList<>();
    Expr dynArgs = null;
    Expr dynKwargs = null;
    boolean requireComma = false;
    while (!cur().isOp(")")) {
      if (requireComma) {
        expectOp(",");
        if (cur().isOp(")")) {
          break;
        }
      }
      Token t = cur();
      if (t.isOp("*")) {
        next();
        dynArgs = parseExpression(true);
      } else if (t.isOp("**")) {
        next();
        dynKwargs = parseExpression(true);
      } else if (t.type == Type.NAME && look().isOp("=")) {
        next();
        next();
        kwNames.add(t.value);
        kwValues.add(parseExpression(true));
      } else {
        if (!kwNames.isEmpty() || dynArgs != null || dynKwargs != null) {
          throw fail("Invalid argument syntax", t.line);
        }
        args.add(parseExpression(true));
      }
      requireComma = true;
    }
    expectOp(")");
    return new CallArgs(args, kwNames, kwValues, dynArgs, dynKwargs);
  }

  private Expr parseFilter(Expr node, boolean startInline) {
    while (cur().isOp("|") || startInline) {
      if (!startInline) {
        next();
      }
      Token t = expectAnyName();
      String name = t.value;
      while (cur().isOp(".")) {
        next();
        name += "." + expectAnyName().value;
      }
      CallArgs args = cur().isOp("(") ? parseCallArgs() : CallArgs.NONE;
      Filters.Filter impl = Filters.get(name);
      if (impl == null && !soft) {
        throw Errors.assertion("No filter named '" + name + "'.", t.line);
      }
      node = new Nodes.FilterExpr(t.line, node, name, impl, args);
      startInline = false;
    }
    return node;
  }

  private Expr parseTest(Expr node) {
    int line = expectName("is").line;
    boolean negated = skipName("not");
    Token nameTok = expectAnyName();
    String name = nameTok.value;
    while (cur().isOp(".")) {
      next();
      name += "." + expectAnyName().value;
    }
    CallArgs args;
    Token t = cur();
    if (t.isOp("(")) {
      args = parseCallArgs();
    } else if ((t.type == Type.NAME || t.type == Type.STRING || t.type == Type.INT || t.type == Type.FLOAT
        || t.isOp("[") || t.isOp("{"))
        && !(t.isName("else") || t.isName("or") || t.isName("and"))) {
      if (t.isName("is")) {
        throw fail("You cannot chain multiple tests with is", t.line);
      }
      Expr arg = parsePostfix(parsePrimary());
      args = new CallArgs(List.of(arg), List.of(), List.of(), null, null);
    } else {
      args = CallArgs.NONE;
    }
    Tests.Test impl = Tests.get(name);
    if (impl == null && !soft) {
      throw Errors.assertion("No test named '" + name + "'.", nameTok.line);
    }
    return new Nodes.TestExpr(line, node, name, impl, args, negated);
  }
}
