#!/usr/bin/env node
// Packs every public package (packages/*) with `pnpm pack` and checks what
// each tarball holds: the compiled JavaScript and its types, the native
// sources and prebuilt binaries for @tarsjs/os-memlock (each tagged glibc or
// musl), the licences and the README; and that it holds no tests, no
// TypeScript sources, no build leftovers and no `workspace:` or `catalog:` ranges. Then it installs all the tarballs
// together into an empty project, loads each package, runs `tarsjs doctor`
// from it and type-checks a consumer against the shipped .d.ts files.
//
//   node scripts/check-tarballs.mjs              what `pnpm test` runs: the native package is
//                                                prebuilt for this machine in a staged copy
//   node scripts/check-tarballs.mjs --release    before publishing: pack the packages as they are;
//                                                prebuilds/ must hold all four Linux targets
//   --no-install                                 skip the install into an empty project
//   --keep                                       keep the temporary directory and print its path
//
// Exit code 0 when every check passes, 1 otherwise (each problem is printed).
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const LICENSES = ['LICENSE', 'LICENSE-MIT', 'LICENSE-APACHE']
/** The prebuilt targets a release must ship: platform-arch directory and libc tag. */
export const RELEASE_TARGETS = [
  ['linux-x64', 'glibc'],
  ['linux-x64', 'musl'],
  ['linux-arm64', 'glibc'],
  ['linux-arm64', 'musl']
]
/** The libc tags node-gyp-build matches; a prebuild without one would load on either. */
export const LIBC_TAGS = ['glibc', 'musl']
const STAGE_SKIP = new Set(['node_modules', 'build', 'prebuilds', 'test-results.json', '.turbo'])

/** The public packages: `{ dir, name, manifest, native }` for each packages/* without "private". */
export function publicPackages (root = ROOT) {
  const out = []
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const dir = join(root, 'packages', name)
    const file = join(dir, 'package.json')
    if (!existsSync(file)) continue
    const manifest = JSON.parse(readFileSync(file, 'utf8'))
    if (manifest.private) continue
    out.push({ dir, name: manifest.name, manifest, native: manifest.gypfile === true || existsSync(join(dir, 'binding.gyp')) })
  }
  return out
}

function run (cmd, args, options = {}) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 240000, ...options })
  if (res.error) throw res.error
  return res
}

function must (res, what) {
  if (res.status !== 0) throw new Error(`${what} failed (exit ${res.status}):\n${res.stdout}\n${res.stderr}`)
  return res
}

/** Packs `dir` into `out` with pnpm; returns the tarball's path. */
export function pack (dir, out) {
  const before = new Set(existsSync(out) ? readdirSync(out) : [])
  must(run('pnpm', ['pack', '--pack-destination', out], { cwd: dir }), `pnpm pack in ${dir}`)
  const made = readdirSync(out).filter((f) => f.endsWith('.tgz') && !before.has(f))
  if (made.length !== 1) throw new Error(`pnpm pack in ${dir} made ${made.length} tarballs`)
  return join(out, made[0])
}

/** Entries of a tarball, without the leading `package/`, files only. */
export function tarEntries (tgz) {
  return must(run('tar', ['-tzf', tgz]), `tar -tzf ${tgz}`)
    .stdout.split('\n')
    .filter((l) => l !== '' && !l.endsWith('/'))
    .map((l) => l.replace(/^package\//, ''))
    .sort()
}

/** One file of a tarball, as a Buffer. */
export function tarFile (tgz, entry) {
  const res = spawnSync('tar', ['-xzOf', tgz, `package/${entry}`], { maxBuffer: 64 * 1024 * 1024 })
  if (res.status !== 0) throw new Error(`tar: no ${entry} in ${tgz}`)
  return res.stdout
}

/** Every path a manifest points at (main, types, bin, exports), normalised without "./". */
export function manifestTargets (manifest) {
  const targets = []
  const add = (p) => typeof p === 'string' && targets.push(p.replace(/^\.\//, ''))
  add(manifest.main)
  add(manifest.types)
  add(manifest.typings)
  if (typeof manifest.bin === 'string') add(manifest.bin)
  else for (const p of Object.values(manifest.bin ?? {})) add(p)
  const walk = (node) => {
    if (typeof node === 'string') add(node)
    else if (node && typeof node === 'object') for (const v of Object.values(node)) walk(v)
  }
  walk(manifest.exports)
  return [...new Set(targets)]
}

/**
 * The rules, on a tarball's file list and packed manifest. `sources` lists the
 * package's src/ files relative to the package (for the compiled-output check);
 * `prebuildTargets` the [dir, libc] pairs that must have a binary (libc null: any).
 * Returns a list of problems (strings); empty when the tarball is right.
 */
export function checkEntries ({ name, entries, manifest, native, sources = [], prebuildTargets = [], hasReadme = true }) {
  const problems = []
  const has = new Set(entries)
  const need = (entry, why) => {
    if (!has.has(entry)) problems.push(`${name}: missing ${entry}${why ? ` (${why})` : ''}`)
  }
  need('package.json')
  for (const license of LICENSES) need(license, 'licence')
  if (hasReadme) need('README.md')
  for (const target of manifestTargets(manifest)) need(target, 'referenced by package.json')

  for (const entry of entries) {
    const parts = entry.split('/')
    const file = parts[parts.length - 1]
    if (parts.some((p) => p === 'test' || p === 'tests' || p === '__tests__' || p === 'fixtures')) problems.push(`${name}: test file ${entry}`)
    else if (/\.(test|spec)\.[cm]?[jt]s$/.test(file)) problems.push(`${name}: test file ${entry}`)
    if (/\.[cm]?ts$/.test(file) && !/\.d\.[cm]?ts$/.test(file)) problems.push(`${name}: TypeScript source ${entry}`)
    if (parts.some((p) => p.startsWith('.'))) problems.push(`${name}: hidden file ${entry}`)
    if (parts.includes('node_modules') || parts.includes('build')) problems.push(`${name}: build or install leftover ${entry}`)
    if (/\.(map|tsbuildinfo|tgz|log)$/.test(file) || file === 'test-results.json' || /\.tmp\./.test(file)) {
      problems.push(`${name}: leftover ${entry}`)
    }
  }

  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (/^(workspace|catalog):/.test(String(range))) problems.push(`${name}: ${field}.${dep} is "${range}" (not replaced on pack)`)
    }
  }
  if (!manifest.license) problems.push(`${name}: package.json has no license`)

  if (native) {
    for (const entry of ['index.js', 'index.d.ts', 'binding.gyp', 'src/binding.c']) need(entry, 'native package')
    for (const entry of entries) {
      if (!entry.startsWith('prebuilds/') || !entry.endsWith('.node')) continue
      const tags = entry.split('/').pop().split('.')
      if (!tags.some((t) => LIBC_TAGS.includes(t))) problems.push(`${name}: prebuilt binary ${entry} has no libc tag (${LIBC_TAGS.join(' or ')})`)
    }
    for (const [platformDir, libc] of prebuildTargets) {
      const found = entries.some((e) => {
        if (!e.startsWith(`prebuilds/${platformDir}/`) || !e.endsWith('.node')) return false
        return libc === null || e.split('/').pop().split('.').includes(libc)
      })
      if (!found) problems.push(`${name}: no prebuilt binary for ${platformDir}${libc ? ` (${libc})` : ''}`)
    }
  } else {
    need('dist/index.js', 'compiled entry point')
    need('dist/index.d.ts', 'types')
    for (const src of sources) {
      if (!/\.ts$/.test(src) || src.endsWith('.d.ts')) continue
      const base = src.replace(/^src\//, 'dist/').replace(/\.ts$/, '')
      need(`${base}.js`, `compiled from ${src}`)
      need(`${base}.d.ts`, `types of ${src}`)
    }
    const compiled = new Set(sources.filter((s) => /\.ts$/.test(s) && !s.endsWith('.d.ts')).map((s) => s.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js')))
    for (const entry of entries) {
      if (!entry.startsWith('dist/') || !entry.endsWith('.js')) continue
      if (!has.has(entry.replace(/\.js$/, '.d.ts'))) problems.push(`${name}: ${entry} has no .d.ts`)
      if (sources.length > 0 && !compiled.has(entry)) problems.push(`${name}: ${entry} is stale (no source in src/): rebuild from clean`)
    }
  }
  return problems
}

/** The libc of this Node process: `'glibc'` or `'musl'`. */
function hostLibc () {
  return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl'
}

/**
 * Source-map comments in the shipped JavaScript and declarations must point at
 * a file the tarball holds. `read(entry)` returns an entry's text.
 */
export function checkSourceMaps ({ name, entries, read }) {
  const problems = []
  const has = new Set(entries)
  for (const entry of entries) {
    if (!/\.(c|m)?js$|\.d\.(c|m)?ts$/.test(entry)) continue
    for (const m of read(entry).matchAll(/^\/\/# sourceMappingURL=(\S+)$/gm)) {
      if (m[1].startsWith('data:')) continue
      const target = join(dirname(entry), m[1]).replace(/\\/g, '/')
      if (!has.has(target)) problems.push(`${name}: ${entry} points at ${target}, which is not in the tarball`)
    }
  }
  return problems
}

/** The names under which a private workspace must refuse to be packed. */
export const PRIVATE_WORKSPACES = ['docs', 'examples', 'bench']

/** `pnpm pack` in each private workspace must fail and write no tarball. */
export function checkPrivateWorkspaces (root, out) {
  const problems = []
  for (const dir of PRIVATE_WORKSPACES) {
    if (!existsSync(join(root, dir, 'package.json'))) continue
    const before = new Set(readdirSync(out))
    const res = run('pnpm', ['pack', '--pack-destination', out], { cwd: join(root, dir) })
    const made = readdirSync(out).filter((f) => !before.has(f))
    if (res.status === 0 || made.length > 0) problems.push(`${dir}: the private workspace was packed (${made.join(', ') || 'exit 0'})`)
    else if (!`${res.stdout}${res.stderr}`.includes('is a private workspace')) problems.push(`${dir}: pnpm pack failed without saying the workspace is private:\n${res.stdout}\n${res.stderr}`)
  }
  return problems
}

/** With pnpm, which runs no install script that was not approved, the prebuilt addon still loads. */
function pnpmInstallCheck (tarballs, tmp) {
  const project = join(tmp, 'pnpm-project')
  mkdirSync(project)
  // Every @tarsjs dependency from its tarball (overrides reach the nested ones too).
  const local = {}
  for (const tgz of tarballs) {
    const name = JSON.parse(tarFile(tgz, 'package.json').toString('utf8')).name
    local[name] = `file:${tgz}`
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({
    name: 'tarball-check-pnpm', version: '1.0.0', private: true, dependencies: local, pnpm: { overrides: local }
  }, null, 2))
  const install = run('pnpm', ['install', '--prefer-offline', '--ignore-workspace'], { cwd: project, env: { ...process.env, CI: 'true' } })
  if (install.status !== 0) return [`pnpm install of the tarballs failed:\n${install.stdout}\n${install.stderr}`]
  const load = run(process.execPath, ['--input-type=module', '-e', `
import { ProtKey } from '@tarsjs/prot-containers'
const key = ProtKey.random(32); key.dispose(); console.log('pnpm ok')`], { cwd: project, env: { ...process.env, PREBUILDS_ONLY: '1' } })
  if (load.status !== 0 || !load.stdout.includes('pnpm ok')) return [`loading the packages installed by pnpm (install scripts not approved) failed:\n${load.stdout}\n${load.stderr}`]
  return []
}

function listFiles (dir, base = dir) {
  if (!existsSync(dir)) return []
  const out = []
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry)
    if (statSync(p).isDirectory()) out.push(...listFiles(p, base))
    else out.push(relative(base, p))
  }
  return out.sort()
}

/**
 * A copy of the native package, sharing its node_modules, prebuilt for this
 * machine. It sits in a copy of the workspace layout, so that `pnpm pack`
 * replaces its `catalog:` ranges from the workspace's catalog.
 */
function stageNative (pkg, tmp, root) {
  const stage = join(tmp, 'stage', 'packages', basename(pkg.dir))
  mkdirSync(dirname(stage), { recursive: true })
  cpSync(join(root, 'pnpm-workspace.yaml'), join(tmp, 'stage', 'pnpm-workspace.yaml'))
  cpSync(pkg.dir, stage, {
    recursive: true,
    filter: (src) => !(STAGE_SKIP.has(basename(src)) || src.endsWith('.tgz'))
  })
  if (existsSync(join(pkg.dir, 'node_modules'))) symlinkSync(join(pkg.dir, 'node_modules'), join(stage, 'node_modules'), 'dir')
  must(run('pnpm', ['run', 'build:prebuilds'], { cwd: stage }), `pnpm run build:prebuilds (${pkg.name})`)
  return stage
}

/** The module settings a consumer is type-checked under; none sets esModuleInterop. */
export const TSC_SETUPS = [
  ['node', { module: 'CommonJS', moduleResolution: 'Node10' }],
  ['node16', { module: 'Node16', moduleResolution: 'Node16' }],
  ['bundler', { module: 'ESNext', moduleResolution: 'Bundler' }]
]

/** Installs the tarballs into an empty project, loads them, runs doctor and type-checks a consumer. */
function installCheck (tarballs, tmp, root) {
  const problems = []
  const project = join(tmp, 'project')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'tarball-check', version: '1.0.0', private: true }, null, 2))
  const install = run('npm', ['install', ...tarballs, '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', '--loglevel=error'], {
    cwd: project,
    env: { ...process.env, npm_config_build_from_source: 'false' }
  })
  if (install.status !== 0) return [`npm install of the tarballs failed:\n${install.stdout}\n${install.stderr}`]
  if (/gyp info|CC\(target\)/.test(install.stdout + install.stderr)) problems.push('@tarsjs/os-memlock compiled at install: its prebuild was not used')

  writeFileSync(join(project, 'smoke.cjs'), `
const memlock = require('@tarsjs/os-memlock')
const { SlotAllocator } = require('@tarsjs/page-alloc')
const { ProtKey, ProtBuf } = require('@tarsjs/prot-containers')
const { sodium_malloc, sodium_free } = require('@tarsjs/sodium-allocator')
const { CHECK_IDS } = require('@tarsjs/doctor')
if (!CHECK_IDS.includes('memlock')) throw new Error('doctor')
const region = memlock.map(memlock.pageSize()); memlock.unmap(region)
const slots = new SlotAllocator({ mlock: 'off' }); slots.free(slots.alloc(32))
const key = ProtKey.random(32); if (key.read((b) => b.length) !== 32) throw new Error('ProtKey')
if (String(key) !== 'ProtKey(32 bytes, no access)') throw new Error('redaction: ' + String(key))
key.dispose(); ProtBuf.random(16).dispose()
const buf = sodium_malloc(32); if (!buf.secure) throw new Error('sodium_malloc'); sodium_free(buf)
console.log('smoke ok')
`)
  const smoke = run(process.execPath, ['smoke.cjs'], { cwd: project, env: { ...process.env, PREBUILDS_ONLY: '1' } })
  if (smoke.status !== 0 || !smoke.stdout.includes('smoke ok')) problems.push(`loading the installed packages failed:\n${smoke.stdout}\n${smoke.stderr}`)

  const doctor = run(join(project, 'node_modules', '.bin', 'tarsjs'), ['doctor', '--json'], { cwd: project })
  try {
    const report = JSON.parse(doctor.stdout)
    if (!Array.isArray(report.findings) || ![0, 1].includes(doctor.status)) throw new Error(`exit ${doctor.status}`)
  } catch (err) {
    problems.push(`the installed \`tarsjs doctor --json\` failed (${err.message}):\n${doctor.stdout}\n${doctor.stderr}`)
  }

  // ESM, as the README's quick starts import the packages.
  writeFileSync(join(project, 'smoke.mjs'), `
import * as memlock from '@tarsjs/os-memlock'
import { SlotAllocator } from '@tarsjs/page-alloc'
import { ProtKey } from '@tarsjs/prot-containers'
import { sodium_malloc, sodium_free } from '@tarsjs/sodium-allocator'
import { runAllocatorConformance } from '@tarsjs/sodium-allocator/conformance'
import { isCheckId } from '@tarsjs/doctor'
if (!isCheckId('memlock')) throw new Error('doctor')
memlock.unmap(memlock.map(memlock.pageSize()))
const slots = new SlotAllocator({ mlock: 'off' }); slots.free(slots.alloc(32))
const key = ProtKey.random(32); key.dispose()
const buf = sodium_malloc(32); sodium_free(buf)
if (typeof runAllocatorConformance !== 'function') throw new Error('conformance')
console.log('esm ok')
`)
  const esm = run(process.execPath, ['smoke.mjs'], { cwd: project, env: { ...process.env, PREBUILDS_ONLY: '1' } })
  if (esm.status !== 0 || !esm.stdout.includes('esm ok')) problems.push(`importing the installed packages from ESM failed:\n${esm.stdout}\n${esm.stderr}`)

  // Only the exported entry points resolve: deep imports are refused, from CommonJS and ESM.
  for (const deep of ['@tarsjs/doctor/dist/cli.js', '@tarsjs/page-alloc/dist/index.js', '@tarsjs/prot-containers/dist/prot-key.js', '@tarsjs/os-memlock/index.js', '@tarsjs/sodium-allocator/dist/args.js']) {
    const cjs = run(process.execPath, ['-e', `require(${JSON.stringify(deep)})`], { cwd: project })
    const mjs = run(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(deep)})`], { cwd: project })
    for (const [kind, res] of [['require', cjs], ['import', mjs]]) {
      if (res.status === 0 || !res.stderr.includes('ERR_PACKAGE_PATH_NOT_EXPORTED')) problems.push(`${kind}('${deep}') was not refused by the exports map:\n${res.stderr}`)
    }
  }

  // Type-check a consumer against the shipped declarations only, strict, without
  // esModuleInterop, under each module resolution a user may have.
  writeFileSync(join(project, 'consumer.ts'), `
import * as memlock from '@tarsjs/os-memlock'
import { PageAllocator, type Allocator, type Protections } from '@tarsjs/page-alloc'
import { ProtBuf, ProtKey } from '@tarsjs/prot-containers'
import { diagnose, type Report } from '@tarsjs/doctor'
import { SodiumAllocator, sodium_malloc, withTarsjsMemory } from '@tarsjs/sodium-allocator'
import { runAllocatorConformance } from '@tarsjs/sodium-allocator/conformance'
const allocator: Allocator = new SodiumAllocator()
const key: ProtKey = ProtKey.random(32, { allocator })
const p: Protections = key.protections()
const n: number = key.read((bytes: Uint8Array) => bytes.byteLength)
const b: ProtBuf = ProtBuf.alloc(n, { allocator: new PageAllocator() })
const r: memlock.Region = memlock.map(memlock.pageSize())
const report: Report = diagnose(['memlock'], true)
const ok: boolean = report.ok && p.locked && sodium_malloc(1).secure && r.byteLength > 0 && b.byteLength > 0
void runAllocatorConformance
void withTarsjsMemory
export { ok }
`)
  for (const [label, options] of TSC_SETUPS) {
    const config = `tsconfig.${label}.json`
    writeFileSync(join(project, config), JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022', 'ESNext.Disposable'],
        ...options,
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')]
      },
      files: ['consumer.ts']
    }, null, 2))
    const tsc = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], { cwd: project })
    if (tsc.status !== 0) problems.push(`type-checking a consumer (${label}) against the shipped .d.ts files failed:\n${tsc.stdout}\n${tsc.stderr}`)
  }
  return problems
}

/**
 * Packs and checks every public package. Returns `{ problems, tarballs, tmp }`.
 * The temporary directory is removed unless `keep`.
 */
export function checkTarballs ({ root = ROOT, release = false, install = true, keep = false, log = () => {} } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'tarsjs-tarballs-'))
  const out = join(tmp, 'out')
  mkdirSync(out)
  const problems = []
  const tarballs = []
  try {
    for (const pkg of publicPackages(root)) {
      let dir = pkg.dir
      let prebuildTargets = []
      if (pkg.native) {
        if (release) {
          prebuildTargets = RELEASE_TARGETS
        } else {
          log(`${pkg.name}: prebuilding in a staged copy`)
          dir = stageNative(pkg, tmp, root)
          prebuildTargets = [[`linux-${process.arch}`, hostLibc()]]
        }
      }
      log(`${pkg.name}: packing`)
      const tgz = pack(dir, out)
      tarballs.push(tgz)
      const entries = tarEntries(tgz)
      const manifest = JSON.parse(tarFile(tgz, 'package.json').toString('utf8'))
      const sources = listFiles(join(pkg.dir, 'src')).map((f) => `src/${f}`)
      problems.push(...checkEntries({
        name: pkg.name,
        entries,
        manifest,
        native: pkg.native,
        sources,
        prebuildTargets,
        hasReadme: true
      }))
      const unpacked = join(tmp, 'unpacked', basename(tgz, '.tgz'))
      mkdirSync(unpacked, { recursive: true })
      must(run('tar', ['-xzf', tgz, '-C', unpacked, '--strip-components=1']), `tar -xzf ${tgz}`)
      problems.push(...checkSourceMaps({ name: pkg.name, entries, read: (entry) => readFileSync(join(unpacked, entry), 'utf8') }))
      for (const license of LICENSES) {
        if (!entries.includes(license)) continue
        if (!tarFile(tgz, license).equals(readFileSync(join(root, license)))) {
          problems.push(`${pkg.name}: ${license} differs from the repository's ${license}`)
        }
      }
    }
    log('checking that the private workspaces refuse to be packed')
    const privateOut = join(tmp, 'private-out')
    mkdirSync(privateOut)
    problems.push(...checkPrivateWorkspaces(root, privateOut))
    if (install && problems.length === 0) {
      log('installing the tarballs into an empty project (npm)')
      problems.push(...installCheck(tarballs, tmp, root))
      log('installing the tarballs into an empty project (pnpm, no install scripts approved)')
      problems.push(...pnpmInstallCheck(tarballs, tmp))
    }
    return { problems, tarballs: tarballs.map((t) => basename(t)), tmp }
  } finally {
    if (!keep) rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = new Set(process.argv.slice(2))
  const { problems, tarballs, tmp } = checkTarballs({
    release: args.has('--release'),
    install: !args.has('--no-install'),
    keep: args.has('--keep'),
    log: (line) => console.log(line)
  })
  if (args.has('--keep')) console.log(`kept ${tmp}`)
  if (problems.length > 0) {
    for (const p of problems) console.error(p)
    console.error(`${problems.length} problem(s) in ${tarballs.length} tarball(s)`)
    process.exit(1)
  }
  console.log(`tarballs ok: ${tarballs.join(', ')}`)
}
