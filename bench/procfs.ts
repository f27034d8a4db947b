/**
 * CPU and memory of processes and threads from /proc (Linux), for the benchmarks: what the server used,
 * apart from the load generator in the benchmark's own process.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** The fields of a /proc stat line after the command name (which may hold spaces and parentheses). */
function statFields(file: string): string[] {
  const stat = readFileSync(file, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a stat file, in seconds; 0 once the process is gone. */
function cpuOfStat(file: string): number {
  try {
    const fields = statFields(file);
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The direct children of a process (a node's media workers). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(`/proc/${entry}/stat`)[1]) === pid) out.push(Number(entry));
    } catch {}
  }
  return out;
}

/** CPU seconds a process has used (user + system). */
export const cpuSeconds = (pid: number): number => cpuOfStat(`/proc/${pid}/stat`);

/** CPU seconds one thread of a process has used. */
export const threadCpuSeconds = (pid: number, tid: number): number => cpuOfStat(`/proc/${pid}/task/${tid}/stat`);

/** Resident memory of a process, MiB. */
export function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
