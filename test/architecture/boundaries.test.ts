import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(source: string): string[] {
  const specs: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
  for (const m of source.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs;
}

/** ARCHITECTURE.md rule 1: the flow engine imports no SDK, no database, no queue, no adapter. */
const FORBIDDEN_IN_FLOWS = [
  /^@slack\//,
  /^@larksuiteoapi\//,
  /^dingtalk/,
  /^bullmq$/,
  /^ioredis$/,
  /^drizzle-orm/,
  /^postgres$/,
  /^@electric-sql\//,
  /^node:(http|https|net|fs|child_process)$/,
  /(^|\/)(adapters|db|scheduler|http)(\/|$)/,
];

describe('architecture boundaries', () => {
  const flowFiles = filesUnder(join(ROOT, 'src', 'flows'));

  it('finds the flow engine (the scan is not vacuous)', () => {
    expect(flowFiles.length).toBeGreaterThan(10);
    expect(flowFiles.some((f) => importsOf(readFileSync(f, 'utf8')).length > 0)).toBe(true);
  });

  it('src/flows imports no SDK, database, queue or adapter module', () => {
    const offences: string[] = [];
    for (const file of flowFiles) {
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        if (FORBIDDEN_IN_FLOWS.some((re) => re.test(spec))) offences.push(`${relative(ROOT, file)} imports ${spec}`);
      }
    }
    expect(offences).toEqual([]);
  });

  it('adapters do not import each other (each platform stands alone)', () => {
    const offences: string[] = [];
    const adaptersDir = join(ROOT, 'src', 'adapters');
    for (const platform of readdirSync(adaptersDir)) {
      for (const file of filesUnder(join(adaptersDir, platform))) {
        for (const spec of importsOf(readFileSync(file, 'utf8'))) {
          const m = /\.\.\/(slack|feishu|dingtalk|console)\//.exec(spec);
          if (m && m[1] !== platform) offences.push(`${relative(ROOT, file)} imports ${spec}`);
        }
      }
    }
    expect(offences).toEqual([]);
  });

  it('the scanner recognises the import forms it polices', () => {
    const sample = `import { App } from '@slack/bolt';\nimport type { X } from '../db/store';\nexport * from 'drizzle-orm';\nconst m = await import('bullmq');\nimport 'postgres';`;
    expect(importsOf(sample)).toEqual(['@slack/bolt', '../db/store', 'drizzle-orm', 'bullmq', 'postgres']);
    expect(importsOf(sample).filter((s) => FORBIDDEN_IN_FLOWS.some((re) => re.test(s)))).toHaveLength(5);
  });
});
