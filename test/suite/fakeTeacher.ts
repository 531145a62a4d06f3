// A stand-in OpenAI-compatible teacher on 127.0.0.1 for the integration suite: the bundled model
// may be weak (or an untrained placeholder), and the panel / hover / feedback tests need steps they
// can rely on. It speaks the real wire format (chat completions, SSE when `stream` is set), so the
// extension's real TeacherDecomposer / TeacherAssistant code runs against it.
import * as http from 'http';
import type { AddressInfo } from 'net';

export interface FakeTeacher {
  baseUrl: string;
  /** Every request body received, in order. */
  requests: { stream: boolean; messages: { role: string; content: string }[] }[];
  /** Delay before answering non-streaming requests (hints, explanations), to test timeouts. */
  explainDelayMs: number;
  close(): Promise<void>;
}

export const JANET_STEPS = [
  'How many eggs do the ducks lay each day?',
  'How many eggs does Janet eat or bake with each day?',
  'How many eggs are left to sell?',
  'How much money does she make from the eggs she sells?',
];

export const EXPLANATION = 'These are the eggs laid each day, the total she starts from.';

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

export function startFakeTeacher(): Promise<FakeTeacher> {
  const requests: FakeTeacher['requests'] = [];
  const state = { explainDelayMs: 0 };
  const sockets = new Set<import('net').Socket>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found' } }));
        return;
      }
      const parsed = JSON.parse(body) as { model: string; stream?: boolean; messages: { role: string; content: string }[] };
      requests.push({ stream: parsed.stream === true, messages: parsed.messages });
      const prompt = parsed.messages.map((m) => m.content).join('\n');
      // Decomposition requests stream; hints and explanations do not.
      const isDecomposition = parsed.stream === true;
      const text = isDecomposition ? stepsFor(prompt).map((q, i) => `${i + 1}. ${q}`).join('\n') + '\n' : EXPLANATION;
      const base = { id: 'fake-1', created: Math.floor(Date.now() / 1000), model: parsed.model };
      if (parsed.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        // One line per chunk, like a real streaming server.
        for (const line of text.split(/(?<=\n)/)) {
          res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: line }, finish_reason: null }] })}\n\n`);
        }
        res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      const reply = () => {
        if (res.destroyed) {
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...base,
            object: 'chat.completion',
            choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
        );
      };
      if (state.explainDelayMs > 0) {
        setTimeout(reply, state.explainDelayMs).unref();
      } else {
        reply();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        requests,
        get explainDelayMs() {
          return state.explainDelayMs;
        },
        set explainDelayMs(ms: number) {
          state.explainDelayMs = ms;
        },
        close: () =>
          new Promise<void>((r) => {
            // Delayed replies must not keep the server (and the test host) alive.
            for (const socket of sockets) {
              socket.destroy();
            }
            server.close(() => r());
          }),
      });
    });
  });
}
