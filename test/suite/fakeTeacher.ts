// A stand-in teacher for the integration suite and the e2e run: the shared fake OpenAI-compatible
// server (test/support/fakeOpenAIServer.ts, real HTTP on 127.0.0.1) with a responder that answers
// like a tutoring model. The bundled model may be weak, and the panel / hover / feedback tests need
// steps they can rely on; the extension's real TeacherDecomposer / TeacherAssistant code runs
// against it over the wire.
import { CHECK_SYSTEM_PROMPT, HINT_SYSTEM_PROMPT } from '../../src/teacher/prompts';
import { FakeOpenAIServer, type RecordedRequest, replies, type ScriptedReply } from '../support/fakeOpenAIServer';

export interface FakeTeacher {
  baseUrl: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Delay before answering non-streaming requests (hints, checks, explanations), to test timeouts. */
  replyDelayMs: number;
  close(): Promise<void>;
}

export const JANET_STEPS = [
  'How many eggs do the ducks lay each day?',
  'How many eggs does Janet eat or bake with each day?',
  'How many eggs are left to sell?',
  'How much money does she make from the eggs she sells?',
];

export const EXPLANATION = 'These are the eggs laid each day, the total she starts from.';
export const HINT = 'Look for the number of eggs the ducks lay, before any are eaten or baked.';
/** The stand-in teacher accepts an answer to a check exactly when it contains this number. */
export const CHECKED_CORRECT = '16';

/** Steps for the problem in the prompt: known problems get fixed steps, others a generic pair. */
function stepsFor(prompt: string): string[] {
  if (/Janet/.test(prompt)) {
    return JANET_STEPS;
  }
  if (/James/.test(prompt)) {
    return ['How many sprints does James run a week?', 'How many meters does he run a week?'];
  }
  return ['What quantities does the problem give?', 'What does the question ask you to find?'];
}

function tutorReply(request: RecordedRequest): ScriptedReply {
  const messages = request.body?.messages ?? [];
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const user = messages.filter((m) => m.role === 'user').pop()?.content ?? '';
  if (request.body?.stream) {
    // Decompositions stream; the client must reassemble lines split across chunks.
    const text = stepsFor(user).map((q, i) => `${i + 1}. ${q}`).join('\n') + '\n';
    return replies.streamed(text);
  }
  if (system === HINT_SYSTEM_PROMPT) {
    return replies.good(HINT);
  }
  if (system === CHECK_SYSTEM_PROMPT) {
    const answer = /<answer>([\s\S]*?)<\/answer>/.exec(user)?.[1] ?? '';
    return replies.good(
      answer.includes(CHECKED_CORRECT)
        ? 'Verdict: correct\nExplanation: Yes, that is the number of eggs laid each day.'
        : 'Verdict: incorrect\nExplanation: Reread the first sentence: how many eggs are laid each day?',
    );
  }
  return replies.good(EXPLANATION);
}

export async function startFakeTeacher(): Promise<FakeTeacher> {
  const server = await FakeOpenAIServer.start();
  let replyDelayMs = 0;
  server.whenEmpty((request) => {
    const reply = tutorReply(request);
    return replyDelayMs > 0 && !request.body?.stream ? replies.slow(replyDelayMs, reply) : reply;
  });
  return {
    baseUrl: server.baseURL,
    requests: server.requests,
    get replyDelayMs() {
      return replyDelayMs;
    },
    set replyDelayMs(ms: number) {
      replyDelayMs = ms;
    },
    close: () => server.close(),
  };
}
