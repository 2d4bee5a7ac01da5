// Each public package's tarball holds what it must and nothing else; the five
// tarballs install together into an empty project, load, run `tarsjs doctor`
// and type-check a consumer (scripts/check-tarballs.mjs).
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PRIVATE_WORKSPACES, TSC_SETUPS, checkEntries, checkSourceMaps, checkTarballs, manifestTargets, publicPackages } from '../../scripts/check-tarballs.mjs'

const ROOT = join(import.meta.dirname, '..', '..')

describe('package tarballs', () => {
  it('pnpm pack of every public package passes every check', () => {
    const { problems, tarballs } = checkTarballs()
    expect(problems, problems.join('\n\n')).toEqual([])
    expect(tarballs.map((t) => t.replace(/-\d+\.\d+\.\d+.*$/, '')).sort()).toEqual([
      'tarsjs-doctor',
      'tarsjs-os-memlock',
      'tarsjs-page-alloc',
      'tarsjs-prot-containers',
      'tarsjs-sodium-allocator'
    ])
  })
})

describe('the tarball rules', () => {
  const base = ['package.json', 'README.md', 'LICENSE', 'LICENSE-MIT', 'LICENSE-APACHE']
  const manifest = { name: 'x', license: 'MIT', main: 'dist/index.js', types: 'dist/index.d.ts', dependencies: { y: '1.0.0' } }

  it('accepts a complete TypeScript package', () => {
    const entries = [...base, 'dist/index.js', 'dist/index.d.ts', 'dist/a.js', 'dist/a.d.ts']
    expect(checkEntries({ name: 'x', entries, manifest, native: false, sources: ['src/index.ts', 'src/a.ts'] })).toEqual([])
  })

  it('finds tests, sources, leftovers, missing outputs, workspace and catalog ranges', () => {
    const entries = [
      ...base, 'dist/index.js', 'dist/index.d.ts', 'dist/old.js', 'dist/old.d.ts', 'dist/index.js.map',
      'test/a.test.mjs', 'src/index.ts', 'dist/b.spec.js', '.probe/x.cjs'
    ]
    const problems = checkEntries({
      name: 'x',
      entries,
      manifest: { ...manifest, dependencies: { y: 'workspace:*' }, devDependencies: { z: 'catalog:' } },
      native: false,
      sources: ['src/index.ts', 'src/a.ts']
    })
    const text = problems.join('\n')
    for (const expected of ['test file test/a.test.mjs', 'TypeScript source src/index.ts', 'leftover dist/index.js.map',
      'missing dist/a.js', 'missing dist/a.d.ts', 'dist/old.js is stale', 'hidden file .probe/x.cjs', 'test file dist/b.spec.js',
      'dependencies.y is "workspace:*"', 'devDependencies.z is "catalog:"']) {
      expect(text).toContain(expected)
    }
  })

  it('requires the native sources and a prebuild for each target', () => {
    const entries = [...base, 'index.js', 'index.d.ts', 'binding.gyp', 'src/binding.c', 'prebuilds/linux-x64/n.glibc.node']
    const problems = checkEntries({
      name: 'n',
      entries,
      manifest: { name: 'n', license: 'MIT', main: 'index.js', types: 'index.d.ts' },
      native: true,
      prebuildTargets: [['linux-x64', 'glibc'], ['linux-x64', 'musl'], ['linux-arm64', null]]
    })
    expect(problems).toEqual(['n: no prebuilt binary for linux-x64 (musl)', 'n: no prebuilt binary for linux-arm64'])
  })

  it('rejects a prebuilt binary without a libc tag, even when a tagged one is present', () => {
    const entries = [...base, 'index.js', 'index.d.ts', 'binding.gyp', 'src/binding.c',
      'prebuilds/linux-x64/n.glibc.node', 'prebuilds/linux-x64/n.node', 'prebuilds/linux-arm64/n.napi.armv8.node']
    const problems = checkEntries({
      name: 'n',
      entries,
      manifest: { name: 'n', license: 'MIT', main: 'index.js', types: 'index.d.ts' },
      native: true,
      prebuildTargets: [['linux-x64', 'glibc']]
    })
    expect(problems).toEqual([
      'n: prebuilt binary prebuilds/linux-x64/n.node has no libc tag (glibc or musl)',
      'n: prebuilt binary prebuilds/linux-arm64/n.napi.armv8.node has no libc tag (glibc or musl)'
    ])
  })

  it('finds source-map comments that point at files the tarball does not hold', () => {
    const files = {
      'dist/a.js': 'x\n//# sourceMappingURL=a.js.map',
      'dist/a.d.ts': 'export {}\n//# sourceMappingURL=a.d.ts.map',
      'dist/b.js': 'y\n//# sourceMappingURL=b.js.map',
      'dist/b.js.map': '{}',
      'dist/c.js': 'z\n//# sourceMappingURL=data:application/json;base64,e30='
    }
    const problems = checkSourceMaps({ name: 'x', entries: Object.keys(files), read: (e) => files[e] })
    expect(problems).toEqual([
      'x: dist/a.js points at dist/a.js.map, which is not in the tarball',
      'x: dist/a.d.ts points at dist/a.d.ts.map, which is not in the tarball'
    ])
  })

  it('type-checks consumers under node, node16 and bundler resolution, none with esModuleInterop', () => {
    expect(TSC_SETUPS.map(([label, o]) => [label, o.moduleResolution])).toEqual([['node', 'Node10'], ['node16', 'Node16'], ['bundler', 'Bundler']])
    for (const [, options] of TSC_SETUPS) expect(options.esModuleInterop).toBeUndefined()
  })

  it('every public package has an exports map; the private workspaces refuse pnpm pack', () => {
    for (const pkg of publicPackages(ROOT)) {
      expect(pkg.manifest.exports?.['.'], pkg.name).toBeDefined()
      expect(pkg.manifest.exports['./package.json'], pkg.name).toBe('./package.json')
    }
    const sodium = publicPackages(ROOT).find((p) => p.name === '@tarsjs/sodium-allocator')
    expect(sodium.manifest.typesVersions['*'].conformance).toEqual(['dist/conformance.d.ts'])
    for (const dir of PRIVATE_WORKSPACES) {
      const manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8'))
      expect([manifest.private, manifest.scripts.prepack]).toEqual([true, 'node ../scripts/refuse-pack.mjs'])
    }
    const base = JSON.parse(readFileSync(join(ROOT, 'tsconfig.base.json'), 'utf8')).compilerOptions
    expect([base.sourceMap, base.declarationMap]).toEqual([false, false])
  })

  it('follows main, types, bin and exports', () => {
    expect(manifestTargets({
      main: './dist/index.js',
      bin: { tool: 'bin/tool.cjs' },
      exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './extra': './dist/extra.js' }
    }).sort()).toEqual(['bin/tool.cjs', 'dist/extra.js', 'dist/index.d.ts', 'dist/index.js'])
  })
})
