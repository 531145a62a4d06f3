// Shared bits of the teacher tests (not a test file itself: no `.test` in the name).
import * as assert from 'node:assert/strict';
import { UserFacingError, type UserErrorCode } from '../../../src/core/types';
import type { FakeOpenAIServer } from '../../support/fakeOpenAIServer';

export const SECRET_KEY = 'sk-test-SECRET-0123456789abcdef';

/** Awaits a rejection and checks it is a UserFacingError with `code`; returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: UserErrorCode): Promise<UserFacingError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof UserFacingError, `expected a UserFacingError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    assertNoSecret(err.message, 'error message');
    assertNoSecret(String(err.stack), 'error stack');
    assertNoSecret(JSON.stringify(err), 'serialised error');
    return err;
  }
  assert.fail(`expected a rejection with ${code}`);
}

export function assertNoSecret(text: string, where: string): void {
  assert.ok(!text.includes(SECRET_KEY), `the API key leaked into the ${where}: ${text}`);
  // Also no recognisable part of it (e.g. a half-masked echo).
  assert.ok(!text.includes('SECRET-0123'), `part of the API key leaked into the ${where}`);
}

/** The key appears in the Authorization header of every request and nowhere else. */
export function assertKeyOnlyInAuthorization(server: FakeOpenAIServer, key = SECRET_KEY): void {
  assert.ok(server.requests.length > 0, 'no requests were made');
  for (const request of server.requests) {
    assert.equal(request.headers.authorization, `Bearer ${key}`);
    assert.ok(!request.url.includes(key), 'key in the URL');
    assert.ok(!request.rawBody.includes(key), 'key in the body');
    for (const [name, value] of Object.entries(request.headers)) {
      if (name !== 'authorization') {
        assert.ok(!String(value).includes(key), `key in header ${name}`);
      }
    }
  }
}

/** A port nothing listens on: bind an ephemeral port, then close it. */
export async function closedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as import('node:net').AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
