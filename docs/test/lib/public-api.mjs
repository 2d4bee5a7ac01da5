// The public API as a user imports it: every function, class, constructor and
// method reachable from the packages' entry points (the `exports` maps), with
// the tags of its doc comment. Members that are private, protected, `#`-named
// or marked `@internal` are not public and are left out, as in the reference.
import { join } from 'node:path'

/** The entry points, one per `exports` subpath: package name → source file. */
export const ENTRY_FILES = {
  '@tarsjs/os-memlock': 'packages/os-memlock/index.d.ts',
  '@tarsjs/doctor': 'packages/doctor/src/index.ts',
  '@tarsjs/page-alloc': 'packages/page-alloc/src/index.ts',
  '@tarsjs/prot-containers': 'packages/prot-containers/src/index.ts',
  '@tarsjs/sodium-allocator': 'packages/sodium-allocator/src/index.ts',
  '@tarsjs/page-alloc/conformance': 'packages/page-alloc/src/conformance.ts',
  '@tarsjs/sodium-allocator/conformance': 'packages/sodium-allocator/src/conformance.ts'
}

function tagsOf (ts, node) {
  return ts.getJSDocTags(node).map((t) => ({ tag: t.tagName.text, text: ts.getTextOfJSDocComment(t.comment) ?? '' }))
}

function isHidden (ts, member) {
  const flags = ts.getCombinedModifierFlags(member)
  if ((flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0) return true
  if (member.name !== undefined && ts.isPrivateIdentifier(member.name)) return true
  return tagsOf(ts, member).some((t) => t.tag === 'internal')
}

function hasAbstract (ts, node) {
  return (ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Abstract) !== 0
}

function isFunctionValue (ts, node) {
  return ts.isVariableDeclaration(node) && node.initializer !== undefined &&
    (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer))
}

/**
 * The public callables of every entry point: `{ pkg, name, kind, file, line, tags }`,
 * `name` being `fn`, `Class`, `Class.constructor` or `Class.method` (static
 * methods too). An overloaded function is one entry with the tags of all its
 * signatures.
 */
export function publicApi (ts, root, entries = ENTRY_FILES) {
  const files = Object.values(entries).map((f) => join(root, f))
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    noEmit: true,
    skipLibCheck: true,
    types: []
  })
  const checker = program.getTypeChecker()
  const out = []
  const add = (pkg, name, kind, nodes) => {
    const first = nodes[0]
    const sf = first.getSourceFile()
    out.push({
      pkg,
      name,
      kind,
      file: sf.fileName.slice(root.length + 1),
      line: sf.getLineAndCharacterOfPosition(first.getStart()).line + 1,
      tags: nodes.flatMap((n) => tagsOf(ts, n))
    })
  }
  for (const [pkg, file] of Object.entries(entries)) {
    const sf = program.getSourceFile(join(root, file))
    const moduleSymbol = checker.getSymbolAtLocation(sf)
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = (exported.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(exported) : exported
      const decls = symbol.declarations ?? []
      const name = exported.name
      const fns = decls.filter((d) => ts.isFunctionDeclaration(d) || isFunctionValue(ts, d))
      // `@internal` exports (for the packages' own backends) are left out of the reference, and here.
      if (fns.some((d) => tagsOf(ts, d).some((t) => t.tag === 'internal'))) continue
      if (fns.length > 0) add(pkg, name, 'function', fns.filter((d) => !ts.isFunctionDeclaration(d) || d.body !== undefined || fns.every((f) => f.body === undefined)))
      const cls = decls.find((d) => ts.isClassDeclaration(d))
      if (cls === undefined) continue
      add(pkg, name, 'class', [cls])
      const ctors = cls.members.filter((m) => ts.isConstructorDeclaration(m))
      if (ctors.length > 0 && !ctors.every((c) => isHidden(ts, c))) add(pkg, `${name}.constructor`, 'constructor', ctors.filter((c) => c.body !== undefined || ctors.every((x) => x.body === undefined)))
      // Own and inherited methods, static and instance, by the checker: a
      // method a base class declares is public on the exported class too.
      const instance = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))
      const statics = checker.getPropertiesOfType(checker.getTypeOfSymbolAtLocation(symbol, cls))
      for (const property of [...statics, ...instance]) {
        const nodes = (property.declarations ?? []).filter((m) => ts.isMethodDeclaration(m) && ts.isIdentifier(m.name) && !isHidden(ts, m))
        if (nodes.length === 0) continue
        const sigs = nodes.filter((n) => n.body === undefined && !hasAbstract(ts, n))
        add(pkg, `${name}.${property.name}`, 'method', sigs.length > 0 ? sigs : nodes)
      }
    }
  }
  return out
}
