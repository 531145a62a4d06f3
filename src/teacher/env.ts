// Where the command line finds the teacher's API key. The extension uses SecretStorage instead.

/**
 * The teacher key from the environment: `MATH_TUTOR_TEACHER_KEY`, falling back to `OPENAI_API_KEY`.
 * Blank values count as unset, so `MATH_TUTOR_TEACHER_KEY=` does not hide a real `OPENAI_API_KEY`.
 */
export function teacherKeyFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  for (const name of ['MATH_TUTOR_TEACHER_KEY', 'OPENAI_API_KEY']) {
    const value = env[name]?.trim();
    if (value) {
      return value;
    }
  }
  return undefined;
}
