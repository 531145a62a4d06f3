// One chat completion against any OpenAI-compatible endpoint, with the robustness every teacher call
// needs: an overall deadline, cancellation, bounded retries with backoff on 429/5xx, a cap on the
// reply length, and errors turned into UserFacingError messages that never contain the API key.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } from 'openai';
import { UserFacingError } from '../core/types';

export interface TeacherConfig {
  /** e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` (Ollama), a vLLM server. */
  baseURL: string;
  model: string;
  /** A local endpoint may need none; a placeholder is sent, which such servers ignore. */
  apiKey?: string;
  /** Upper bound on one teacher call, retries and backoff included. */
  timeoutMs: number;
  /** Retries after a 429 or 5xx (default 2, so at most 3 requests per call). */
  maxRetries?: number;
  /** First backoff delay when the server sends no Retry-After (default 500 ms, doubled per retry). */
  retryBaseDelayMs?: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  messages: ChatMessage[];
  temperature: number;
  /** Sent as `max_tokens`: the server stops there. */
  maxTokens: number;
  /** Our own cap in characters, for servers that ignore `max_tokens`. */
  maxChars: number;
  /** Stream the reply (server-sent events) and report the text so far to `onText`. */
  stream?: boolean;
  onText?: (textSoFar: string) => void;
  signal?: AbortSignal;
}

export interface CompletionResult {
  text: string;
  /** The reply was cut off, by the server's `max_tokens` (`finish_reason: length`) or by `maxChars`. */
  cutOff: boolean;
  /** HTTP requests made, retries included. */
  attempts: number;
}

const PLACEHOLDER_KEY = 'no-key-configured';
const MAX_BACKOFF_MS = 10_000;

/** The base URL without credentials, query or fragment, safe to show in a message. */
export function displayURL(baseURL: string): string {
  try {
    const url = new URL(baseURL);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

/** Removes the key (and anything shaped like an OpenAI key) from text that came from elsewhere. */
export function redactSecrets(text: string, apiKey: string | undefined): string {
  let clean = text;
  if (apiKey && apiKey.length >= 4) {
    clean = clean.split(apiKey).join('[redacted]');
  }
  return clean.replace(/\bsk-[A-Za-z0-9_*-]{6,}/g, 'sk-[redacted]');
}

function cancelledError(): UserFacingError {
  return new UserFacingError('The request to the teacher was cancelled.', 'cancelled');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelledError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

export class TeacherClient {
  readonly model: string;
  readonly baseURL: string;
  private readonly openai: OpenAI;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly hasKey: boolean;
  private readonly apiKey: string | undefined;
  /** Controllers of requests in flight, so that dispose() can stop them. */
  private readonly inFlight = new Set<AbortController>();

  constructor(config: TeacherConfig) {
    const where = displayURL(config.baseURL);
    let protocol = '';
    try {
      protocol = new URL(config.baseURL).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      throw new UserFacingError(
        'The teacher base URL is not an http(s) URL. Set it to the endpoint\'s API root, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1.',
        'teacher-not-configured',
      );
    }
    if (!config.model || !config.model.trim()) {
      throw new UserFacingError(`No teacher model is set for ${where}. Set the model id (e.g. gpt-4o-mini).`, 'teacher-not-configured');
    }
    if (!(config.timeoutMs > 0) || !Number.isFinite(config.timeoutMs)) {
      throw new UserFacingError('The teacher timeout must be a positive number of milliseconds.', 'bad-argument');
    }
    const maxRetries = config.maxRetries ?? 2;
    if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 10) {
      throw new UserFacingError('The teacher retry count must be an integer from 0 to 10.', 'bad-argument');
    }
    this.model = config.model.trim();
    this.baseURL = config.baseURL;
    this.timeoutMs = Math.ceil(config.timeoutMs);
    this.maxRetries = maxRetries;
    this.retryBaseDelayMs = config.retryBaseDelayMs ?? 500;
    this.apiKey = config.apiKey?.trim() || undefined;
    this.hasKey = this.apiKey !== undefined;
    this.openai = new OpenAI({
      baseURL: config.baseURL,
      // Always explicit: an undefined key would make the SDK read OPENAI_API_KEY on its own.
      apiKey: this.apiKey ?? PLACEHOLDER_KEY,
      // Never send OpenAI organisation/project ids from the environment to a third-party endpoint.
      organization: null,
      project: null,
      // Retries are ours (bounded, abortable, within the deadline); the SDK's sleep is not abortable.
      maxRetries: 0,
      timeout: Math.ceil(config.timeoutMs),
      // The SDK's debug log prints request details; keep it off whatever OPENAI_LOG says.
      logLevel: 'off',
    });
  }

  /** Stops every request in flight; they reject with a 'cancelled' error. */
  abortAll(): void {
    for (const controller of this.inFlight) {
      controller.abort();
    }
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const deadline = Date.now() + this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (request.signal?.aborted) {
        throw cancelledError();
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw this.timeoutError();
      }
      try {
        const result = await this.attempt(request, remaining);
        return { ...result, attempts: attempt + 1 };
      } catch (err) {
        const mapped = this.toUserFacing(err, attempt + 1);
        const info = apiErrorInfo(err);
        if (!info || !isRetryable(info) || attempt >= this.maxRetries) {
          throw mapped;
        }
        const delay = this.backoffMs(info, attempt);
        // Waiting past the deadline cannot succeed: report what the server said instead of a timeout.
        if (Date.now() + delay >= deadline) {
          throw mapped;
        }
        await sleep(delay, request.signal);
      }
    }
  }

  private async attempt(request: CompletionRequest, remainingMs: number): Promise<Omit<CompletionResult, 'attempts'>> {
    const controller = new AbortController();
    let stoppedBy: 'deadline' | 'caller' | 'cap' | undefined;
    const timer = setTimeout(() => {
      stoppedBy ??= 'deadline';
      controller.abort();
    }, remainingMs);
    const onCallerAbort = () => {
      stoppedBy ??= 'caller';
      controller.abort();
    };
    request.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (request.signal?.aborted) {
      onCallerAbort();
    }
    this.inFlight.add(controller);
    const body = {
      model: this.model,
      messages: request.messages,
      temperature: request.temperature,
      max_tokens: request.maxTokens,
    };
    // Our timer decides; the SDK's own timeout is a backstop slightly later.
    const options = { signal: controller.signal, timeout: Math.ceil(remainingMs) + 1000, maxRetries: 0 };
    try {
      let text = '';
      let finishReason: string | null | undefined;
      if (request.stream) {
        const stream = await this.openai.chat.completions.create({ ...body, stream: true }, options);
        let chunks = 0;
        for await (const chunk of stream) {
          chunks++;
          const choice = (chunk as { choices?: unknown }).choices;
          const first = Array.isArray(choice) ? (choice[0] as { delta?: { content?: unknown }; finish_reason?: string | null }) : undefined;
          const delta = first?.delta?.content;
          if (typeof delta === 'string' && delta) {
            text += delta;
            if (text.length > request.maxChars) {
              text = text.slice(0, request.maxChars);
              stoppedBy = 'cap';
              break;
            }
            request.onText?.(text);
          }
          if (first?.finish_reason) {
            finishReason = first.finish_reason;
          }
        }
        // The SDK ends the iteration quietly when its request is aborted: say why it ended.
        if (stoppedBy === 'deadline') {
          throw this.timeoutError();
        }
        if (stoppedBy === 'caller' || (stoppedBy === undefined && controller.signal.aborted)) {
          throw cancelledError();
        }
        // A plain JSON or HTML body read as a stream yields no events at all.
        if (chunks === 0) {
          throw this.badReply('The teacher\'s reply could not be read (it was not a chat-completion stream).');
        }
      } else {
        const completion: unknown = await this.openai.chat.completions.create({ ...body, stream: false }, options);
        const choices = (completion as { choices?: unknown } | null)?.choices;
        const first = Array.isArray(choices) ? (choices[0] as { message?: { content?: unknown }; finish_reason?: string | null }) : undefined;
        const content = first?.message?.content;
        if (typeof content !== 'string') {
          throw this.badReply('The teacher\'s reply was not a chat completion.');
        }
        text = content;
        finishReason = first?.finish_reason;
        if (text.length > request.maxChars) {
          text = text.slice(0, request.maxChars);
          stoppedBy = 'cap';
        }
      }
      return { text, cutOff: stoppedBy === 'cap' || finishReason === 'length' };
    } catch (err) {
      if (stoppedBy === 'deadline') {
        throw this.timeoutError();
      }
      if (stoppedBy === 'caller') {
        throw cancelledError();
      }
      throw err;
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onCallerAbort);
      this.inFlight.delete(controller);
    }
  }

  private backoffMs(err: ApiErrorInfo, attempt: number): number {
    const headers = err.headers;
    const afterMs = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
    if (Number.isFinite(afterMs) && afterMs >= 0) {
      return Math.min(afterMs, MAX_BACKOFF_MS);
    }
    const after = headers?.get('retry-after');
    if (after) {
      const secs = Number.parseFloat(after);
      const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(after) - Date.now();
      if (Number.isFinite(ms) && ms >= 0) {
        return Math.min(ms, MAX_BACKOFF_MS);
      }
    }
    // Exponential with jitter, so that parallel callers do not retry in lockstep.
    const base = this.retryBaseDelayMs * 2 ** attempt;
    return Math.min(base * (0.75 + Math.random() * 0.25), MAX_BACKOFF_MS);
  }

  private timeoutError(): UserFacingError {
    return new UserFacingError(
      `The teacher at ${displayURL(this.baseURL)} did not answer within ${seconds(this.timeoutMs)}. Try again, or raise the teacher timeout.`,
      'teacher-timeout',
    );
  }

  private badReply(detail: string): UserFacingError {
    return new UserFacingError(`${detail} Check that ${displayURL(this.baseURL)} is an OpenAI-compatible chat endpoint and "${this.model}" a chat model.`, 'teacher-bad-reply');
  }

  /** Maps anything the SDK throws to a UserFacingError; other errors (bugs) are passed through. */
  private toUserFacing(err: unknown, requests: number): unknown {
    const where = displayURL(this.baseURL);
    if (err instanceof UserFacingError) {
      return err;
    }
    if (err instanceof APIUserAbortError) {
      return cancelledError();
    }
    if (err instanceof APIConnectionTimeoutError) {
      return this.timeoutError();
    }
    if (err instanceof APIConnectionError) {
      const { code, message } = connectionFailure(err);
      const why = code === 'ECONNREFUSED' ? 'the connection was refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'the host name could not be resolved'
        : code ? `network error ${code}`
        : message ? `network error: ${redactSecrets(message, this.apiKey).slice(0, 100)}` : 'network error';
      return new UserFacingError(
        `Could not reach the teacher at ${where} (${why}). Check the base URL and that the server is running.`,
        'teacher-unreachable',
      );
    }
    const info = apiErrorInfo(err);
    if (info) {
      const status = info.status;
      const tries = requests > 1 ? ` after ${requests} attempts` : '';
      if (status === 401 || status === 403) {
        const message = this.hasKey
          ? `The teacher rejected the API key (HTTP ${status}) at ${where}. Check the key: "Math Tutor: Set Teacher API Key" in VS Code, or MATH_TUTOR_TEACHER_KEY / OPENAI_API_KEY on the command line.`
          : `The teacher at ${where} requires an API key (HTTP ${status}) and none is set. Set one with "Math Tutor: Set Teacher API Key" in VS Code, or MATH_TUTOR_TEACHER_KEY on the command line.`;
        return new UserFacingError(message, 'teacher-auth');
      }
      if (status === 404) {
        return new UserFacingError(
          `The teacher at ${where} has no model "${this.model}" (HTTP 404). Check the model id, and that the base URL is the API root (it often ends in /v1).`,
          'teacher-model-not-found',
        );
      }
      if (status === 429) {
        if (info.code === 'insufficient_quota') {
          return new UserFacingError(`The teacher at ${where} refused the request: the account has no quota left (HTTP 429).`, 'teacher-rate-limited');
        }
        return new UserFacingError(
          `The teacher at ${where} is rate-limiting requests (HTTP 429)${tries}. Wait a little and try again.`,
          'teacher-rate-limited',
        );
      }
      if (status !== undefined && status >= 500) {
        return new UserFacingError(`The teacher at ${where} failed with HTTP ${status}${tries}. Try again later.`, 'teacher-server-error');
      }
      // Other 4xx (400 context too long, 422 ...): the server's own words help, minus any secret.
      const detail = redactSecrets(info.message, this.apiKey).replace(/\s+/g, ' ').slice(0, 200);
      const label = status === undefined ? 'reported an error' : `refused the request (HTTP ${status})`;
      return new UserFacingError(`The teacher at ${where} ${label}${detail ? `: ${detail}` : '.'}`, 'teacher-server-error');
    }
    if (err instanceof OpenAIError || err instanceof SyntaxError) {
      // Unparseable JSON or SSE: the endpoint answered, but not in the chat-completions format.
      return this.badReply('The teacher\'s reply could not be read.');
    }
    return err;
  }
}

/** The parts of an SDK APIError we use, typed (the SDK's generics are `any` there). */
interface ApiErrorInfo {
  status: number | undefined;
  code: string | null | undefined;
  headers: Headers | undefined;
  /** The server's `error.message`, if any: untrusted, may contain the key. */
  message: string;
}

function apiErrorInfo(err: unknown): ApiErrorInfo | undefined {
  if (!(err instanceof APIError)) {
    return undefined;
  }
  const status: unknown = err.status;
  const headers: unknown = err.headers;
  const body: unknown = err.error;
  const message = (body as { message?: unknown } | undefined)?.message;
  return {
    status: typeof status === 'number' ? status : undefined,
    code: typeof err.code === 'string' ? err.code : undefined,
    headers: headers instanceof Headers ? headers : undefined,
    message: typeof message === 'string' ? message : '',
  };
}

function isRetryable(err: ApiErrorInfo): boolean {
  const status = err.status;
  if (status === 429) {
    return err.code !== 'insufficient_quota';
  }
  return status === 408 || status === 409 || (status !== undefined && status >= 500);
}

function connectionFailure(err: APIConnectionError): { code?: string; message?: string } {
  // fetch wraps the socket error: TypeError('fetch failed', { cause: Error & { code } }).
  let cause: unknown = err.cause;
  let message: string | undefined;
  for (let depth = 0; depth < 4 && cause; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') {
      return { code };
    }
    const text = (cause as { message?: unknown }).message;
    if (typeof text === 'string' && text && text !== 'fetch failed') {
      message = text;
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return { message };
}
