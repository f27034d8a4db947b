import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Compile } from 'typebox/compile';
import { Text, textProblem, withoutForbidden } from './text-policy.ts';

const CONTROLS = ['\u0000', '\u0007', '\u0008', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009f', '\ud800'];
const LAYOUT = ['\u2028', '\u2029', '\u202a', '\u202e', '\u2066', '\u2069'];
const FINE = ['Weekly sync', 'Réunion d’équipe 🎙', 'שלום \u200f(RTL mark)', '会议', 'a b', 'x'.repeat(5000)];

describe('text policy', () => {
  it('plain: refuses C0, DEL, C1 controls and lone surrogates, nothing else', () => {
    for (const bad of CONTROLS) assert.ok(textProblem(`a${bad}b`, 'plain'), JSON.stringify(bad));
    for (const ok of [...FINE, ...LAYOUT.map((c) => `a${c}b`)]) assert.equal(textProblem(ok, 'plain'), undefined);
  });

  it('display: also refuses line separators and bidi embedding, override and isolate controls', () => {
    for (const bad of [...CONTROLS, ...LAYOUT]) assert.ok(textProblem(`a${bad}b`, 'display'), JSON.stringify(bad));
    for (const ok of FINE) assert.equal(textProblem(ok, 'display'), undefined);
  });

  it('password: refuses only NUL', () => {
    assert.ok(textProblem('correct\u0000horse', 'password'));
    for (const ok of ['\t tab', 'new\nline', '\u001b esc', '\u202e', ...FINE]) {
      assert.equal(textProblem(ok, 'password'), undefined, JSON.stringify(ok));
    }
  });

  it('removes what a rule forbids from text the client did not choose (a file name)', () => {
    assert.equal(withoutForbidden('a\u0000b\u202ec\u2028d', 'display'), 'a b c d');
    assert.equal(withoutForbidden('a\u0000b\u202ec', 'plain'), 'a b\u202ec');
    for (const ok of FINE) assert.equal(withoutForbidden(ok, 'display'), ok);
  });

  it('schemas check the same rule as textProblem', () => {
    for (const rule of ['plain', 'display', 'password'] as const) {
      const checker = Compile(Text(rule));
      for (const text of [...CONTROLS, ...LAYOUT, ...FINE].map((c) => `a${c}b`)) {
        assert.equal(checker.Check(text), textProblem(text, rule) === undefined, `${rule} ${JSON.stringify(text)}`);
      }
    }
  });
});
