// What the numbers were measured on: machine, kernel, runtime, package versions.
import { execFileSync } from 'node:child_process'
import * as nodeOs from 'node:os'
import { benchDir, os, packageVersion } from './load.mjs'

export const PACKAGES = ['@tarsjs/os-memlock', '@tarsjs/page-alloc', '@tarsjs/prot-containers', '@tarsjs/sodium-allocator', 'sodium-native']

function git (args) {
  try {
    return execFileSync('git', args, { cwd: benchDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

export function machineInfo () {
  const cpus = nodeOs.cpus()
  let limit = null
  try {
    const { soft, hard } = os.memlockLimit()
    limit = { soft: Number.isFinite(soft) ? soft : 'unlimited', hard: Number.isFinite(hard) ? hard : 'unlimited' }
  } catch {}
  let capabilities = null
  try {
    capabilities = os.capabilities()
  } catch {}
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    availableParallelism: typeof nodeOs.availableParallelism === 'function' ? nodeOs.availableParallelism() : cpus.length,
    memoryBytes: nodeOs.totalmem(),
    platform: process.platform,
    arch: process.arch,
    kernel: nodeOs.release(),
    kernelVersion: nodeOs.version(),
    node: process.version,
    v8: process.versions.v8,
    pageSize: os.pageSize(),
    memlockLimit: limit,
    capabilities
  }
}

export function packageVersions () {
  const versions = {}
  for (const name of PACKAGES) versions[name] = packageVersion(name)
  return versions
}

export function sourceRevision () {
  const commit = git(['rev-parse', '--short', 'HEAD'])
  if (commit === null) return null
  const status = git(['status', '--porcelain', '--', '../packages', '.'])
  return { commit, dirty: status !== null && status.length > 0 }
}
