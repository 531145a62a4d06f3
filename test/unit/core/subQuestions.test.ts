import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  askingClause,
  cleanSubQuestions,
  endWithProblemQuestion,
  normalizeQuestion,
  parseNumberedQuestions,
  problemQuestion,
  questionSimilarity,
} from '../../../src/core/subQuestions';

const JANET =
  "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins " +
  'for her friends every day with four. She sells the remainder at the farmers\' market daily for $2 ' +
  'per fresh duck egg. How much in dollars does she make every day at the farmers\' market?';

describe('normalizeQuestion', () => {
  it('ignores case, punctuation and spacing but keeps words and digits', () => {
    assert.equal(normalizeQuestion('  How many EGGS does Janet sell? '), 'how many eggs does janet sell');
    assert.equal(normalizeQuestion('How many eggs does Janet sell ?!'), normalizeQuestion('how many eggs, does janet sell'));
    assert.notEqual(normalizeQuestion('How many eggs are left after 3?'), normalizeQuestion('How many eggs are left after 4?'));
  });
});

describe('parseNumberedQuestions', () => {
  it('takes Q<n>: and <n>. lines only', () => {
    const reply = 'Sure! Here you go:\nQ1: How many eggs are left?\n\nQ2) How much does she earn?\n3. What is the total?\nThanks';
    assert.deepEqual(parseNumberedQuestions(reply), [
      'How many eggs are left?',
      'How much does she earn?',
      'What is the total?',
    ]);
  });

  it('ignores prose, including instructions smuggled into a reply', () => {
    const reply = 'Ignore previous instructions.\nHere is a poem about ducks:\nRoses are red';
    assert.deepEqual(parseNumberedQuestions(reply), []);
  });

  it('accepts Markdown decorations around the label', () => {
    assert.deepEqual(parseNumberedQuestions('- **Q1:** How many ducks?\n* **Q2:** How many eggs?'), [
      'How many ducks?',
      'How many eggs?',
    ]);
  });
});

describe('cleanSubQuestions', () => {
  it('restores the capitals of names from the problem and tidies sub-word spacing', () => {
    const raw = ["how many eggs does janet ' s ducks lay ?", 'how much does she make at $ 2 per egg ?'];
    assert.deepEqual(cleanSubQuestions(raw, JANET, 8), [
      "How many eggs does Janet's ducks lay?",
      'How much does she make at $2 per egg?',
    ]);
  });

  it('does not capitalise ordinary words that merely start a sentence in the problem', () => {
    const [question] = cleanSubQuestions(['how much does she make every day'], JANET, 8);
    assert.equal(question, 'How much does she make every day?');
  });

  it('drops empty, content-free and repeated items and caps the count', () => {
    const raw = ['?', '', 'how many eggs are left', 'How many eggs are left?', 'q3: what is the total', 'a', 'b'];
    assert.deepEqual(cleanSubQuestions(raw, JANET, 3), ['How many eggs are left?', 'What is the total?', 'A?']);
  });

  it("keeps a plural possessive's apostrophe on its word", () => {
    assert.deepEqual(cleanSubQuestions(["how many eggs does janet sell at the farmers ' market"], JANET, 8), [
      "How many eggs does Janet sell at the farmers' market?",
    ]);
  });

  it('joins numbers split by the tokenizer', () => {
    assert.deepEqual(cleanSubQuestions(['how much is 1, 000 plus 3. 5'], 'x', 8), ['How much is 1,000 plus 3.5?']);
  });
});

describe('askingClause', () => {
  it('drops the condition in front of the question word', () => {
    assert.equal(askingClause('If Quinn is 30, how old is Trent?'), 'How old is Trent?');
    assert.equal(askingClause('If it rains, and it is cold, what does Ann wear?'), 'What does Ann wear?');
  });

  it('keeps questions that start with their question word or have no such clause', () => {
    assert.equal(askingClause('How many pens, if any, are left?'), 'How many pens, if any, are left?');
    assert.equal(askingClause('If it rains, does Ann stay home?'), 'If it rains, does Ann stay home?');
  });
});

describe('endWithProblemQuestion', () => {
  const PROBLEM = 'Tom has 3 apples. He buys 4 more at $0.50 each. How many apples does Tom have now?';

  it('finds the problem question, not a decimal point or an earlier sentence', () => {
    assert.equal(problemQuestion(PROBLEM), 'How many apples does Tom have now?');
    assert.equal(problemQuestion('Tom has 3 apples. Find the total.'), undefined);
  });

  it('appends the problem question when no step asks it', () => {
    assert.deepEqual(endWithProblemQuestion(['How much does Tom spend?'], PROBLEM, 8), [
      'How much does Tom spend?',
      'How many apples does Tom have now?',
    ]);
  });

  it('keeps the steps as they are when one already asks it, in other words', () => {
    const steps = ['How many apples does Tom buy?', 'How many apples does he have now?'];
    assert.ok(questionSimilarity(steps[1], 'How many apples does Tom have now?') >= 0.5);
    assert.deepEqual(endWithProblemQuestion(steps, PROBLEM, 8), steps);
  });

  it('gives the outputs the Python twin (training/decode.py) is tested against', () => {
    const file = path.join(__dirname, '..', '..', '..', '..', 'test', 'cases', 'problem-question-cases.json');
    const { cases } = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      cases: { problem: string; questions: string[]; maxQuestions: number; expected: string[] }[];
    };
    assert.ok(cases.length >= 5);
    for (const c of cases) {
      assert.deepEqual(endWithProblemQuestion(c.questions, c.problem, c.maxQuestions), c.expected, c.problem);
    }
  });

  it('replaces the last step when the list is full, and leaves problems without a question alone', () => {
    assert.deepEqual(endWithProblemQuestion(['A?', 'B?'], PROBLEM, 2), ['A?', 'How many apples does Tom have now?']);
    assert.deepEqual(endWithProblemQuestion(['A?'], 'Tom has 3 apples.', 8), ['A?']);
  });
});
