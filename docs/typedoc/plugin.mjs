// Names each module of the API reference after its npm package and entry
// point ("page-alloc/src" -> "@tarsjs/page-alloc", "sodium-allocator/src/conformance"
// -> "@tarsjs/sodium-allocator/conformance") without touching the sources.
import { Converter, ReflectionKind } from 'typedoc'

export function load (app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const [pkg, ...rest] = mod.name.split('/')
      const entry = rest.filter((part) => part !== 'src' && part !== 'index')
      mod.name = ['@tarsjs', pkg, ...entry].join('/')
    }
  })
}
