// Tutor panel webview. Renders the host's TutorViewState and reports what the learner does.
// Every piece of problem / model / learner text goes through textContent: the problem may contain
// `<script>` or `<img onerror>` and must show as text. No innerHTML anywhere in this file.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type { FromPanel, Rating, StepView, ToPanel, TutorViewState } from '../../src/core/panelProtocol';
import type { AnswerCheck } from '../../src/core/types';

interface VsCodeApi {
  postMessage(message: FromPanel): void;
  getState(): TutorViewState | undefined;
  setState(state: TutorViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const root = document.getElementById('app') as HTMLElement;

let state: TutorViewState | undefined;
/** Overall thumbs-down clicked, reason form open (local UI state, not persisted). */
let askingReason = false;

function post(message: FromPanel): void {
  vscode.postMessage(message);
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  children: (Node | undefined)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) {
    node.className = props.className;
  }
  if (props.text !== undefined) {
    node.textContent = props.text;
  }
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child) {
      node.appendChild(child);
    }
  }
  return node;
}

/** A vscode-button; `focusKey` lets a re-render put keyboard focus back where it was. */
function button(label: string, focusKey: string, onClick: () => void, opts: { secondary?: boolean; ariaLabel?: string; pressed?: boolean; disabled?: boolean } = {}): HTMLElement {
  const b = document.createElement('vscode-button');
  if (label) {
    b.textContent = label;
  }
  b.dataset.focusKey = focusKey;
  if (opts.secondary) {
    b.setAttribute('secondary', '');
  }
  if (opts.ariaLabel) {
    b.setAttribute('aria-label', opts.ariaLabel);
    b.setAttribute('title', opts.ariaLabel);
  }
  if (opts.pressed !== undefined) {
    b.setAttribute('aria-pressed', String(opts.pressed));
    b.classList.toggle('pressed', opts.pressed);
  }
  if (opts.disabled) {
    b.setAttribute('disabled', '');
  }
  b.addEventListener('click', () => {
    if (!b.hasAttribute('disabled')) {
      onClick();
    }
  });
  return b;
}

// Material Design "thumb_up" (Apache-2.0). An SVG rather than an emoji: emoji fonts are missing on
// many Linux set-ups, and the icon takes the theme's button colour via currentColor.
const THUMB_PATH =
  'M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z';

function thumbIcon(down: boolean): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '14');
  svg.setAttribute('height', '14');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', down ? 'thumb down' : 'thumb');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', THUMB_PATH);
  path.setAttribute('fill', 'currentColor');
  svg.appendChild(path);
  return svg;
}

function thumbs(kind: string, current: Rating | undefined, onRate: (rating: Rating) => void, what: string): HTMLElement {
  const up = button('', `${kind}-up`, () => onRate('up'), { secondary: true, ariaLabel: `${what}: helpful`, pressed: current === 'up' });
  const down = button('', `${kind}-down`, () => onRate('down'), { secondary: true, ariaLabel: `${what}: not helpful`, pressed: current === 'down' });
  up.appendChild(thumbIcon(false));
  down.appendChild(thumbIcon(true));
  return el('span', { className: 'thumbs', attrs: { role: 'group', 'aria-label': `Rate ${what}` } }, [up, down]);
}

function textfield(placeholder: string, focusKey: string, value: string, label: string, onSubmit: (text: string) => void): HTMLElement {
  const field = document.createElement('vscode-textfield') as HTMLElement & { value: string };
  field.setAttribute('placeholder', placeholder);
  field.setAttribute('aria-label', label);
  field.dataset.focusKey = focusKey;
  field.value = value;
  field.addEventListener('keydown', (event: KeyboardEvent) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      onSubmit(field.value);
    }
  });
  return field;
}

const VERDICT_LABEL: Record<AnswerCheck['verdict'], string> = {
  correct: '✓ Correct',
  incorrect: '✗ Not quite',
  unsure: '? The teacher is not sure',
};

/** The teacher's hint and verdict for a step, when asked for. */
function teacherReplies(step: StepView): (HTMLElement | undefined)[] {
  return [
    step.hint !== undefined ? el('div', { className: 'hint', text: `Hint: ${step.hint}`, attrs: { role: 'note' } }) : undefined,
    step.teacherCheck
      ? el('div', { className: `teacher-check ${step.teacherCheck.verdict}`, attrs: { role: 'note' } }, [
          el('strong', { text: `${VERDICT_LABEL[step.teacherCheck.verdict]}. ` }),
          el('span', { text: step.teacherCheck.explanation }),
        ])
      : undefined,
  ];
}

function renderStep(s: TutorViewState, step: StepView, index: number): HTMLElement {
  const isCurrent = index === s.current;
  const item = el('li', { className: `step${isCurrent ? ' current' : ''}${index > s.current ? ' ahead' : ''}`, attrs: { 'data-step': String(index) } });
  if (isCurrent) {
    item.setAttribute('aria-current', 'step');
  }
  item.appendChild(el('div', { className: 'question', text: step.question }));
  if (step.answer !== undefined && !isCurrent) {
    item.appendChild(el('div', { className: 'answer', text: `Your answer: ${step.value ?? step.answer}` }));
  }
  if (isCurrent) {
    const submit = (text: string) => {
      if (text.trim()) {
        post({ type: 'answer', sessionId: s.sessionId, step: index, text });
      }
    };
    const field = textfield('Your answer, e.g. 16-3-4', `answer-${index}`, step.answer ?? '', `Answer to step ${index + 1}`, submit);
    item.appendChild(
      el('div', { className: 'answer-row' }, [
        field,
        button('Submit', `submit-${index}`, () => submit((field as HTMLElement & { value: string }).value)),
      ]),
    );
    if (step.answer !== undefined) {
      item.appendChild(el('div', { className: 'answer', text: `Your answer: ${step.value ?? step.answer}`, attrs: { role: 'status' } }));
    }
    if (s.teacherAvailable) {
      item.appendChild(
        el('div', { className: 'teacher-row' }, [
          button('Hint', `hint-${index}`, () => post({ type: 'hint', sessionId: s.sessionId, step: index }), {
            secondary: true,
            ariaLabel: `Ask the teacher for a hint on step ${index + 1}`,
            disabled: !!s.busy,
          }),
          button('Check with teacher', `teacher-check-${index}`, () => post({ type: 'checkWithTeacher', sessionId: s.sessionId, step: index }), {
            secondary: true,
            ariaLabel: step.answer === undefined ? 'Submit an answer first, then the teacher can check it' : `Ask the teacher whether your answer to step ${index + 1} is right`,
            disabled: !!s.busy || step.answer === undefined,
          }),
        ]),
      );
    }
  }
  for (const reply of teacherReplies(step)) {
    if (reply) {
      item.appendChild(reply);
    }
  }
  if (s.feedbackEnabled) {
    item.appendChild(thumbs(`step-${index}`, step.rating, (rating) => post({ type: 'rateStep', sessionId: s.sessionId, step: index, rating }), `Step ${index + 1}`));
  }
  return item;
}

function renderOverall(s: TutorViewState): HTMLElement {
  const box = el('section', { className: 'overall', attrs: { 'aria-label': 'Feedback on the whole breakdown' } }, [
    el('span', { text: 'Was this breakdown helpful?' }),
    thumbs('overall', s.overallRating, (rating) => {
      if (rating === 'down') {
        askingReason = true;
        render();
        focusKey('reason');
      } else {
        askingReason = false;
        post({ type: 'rateOverall', sessionId: s.sessionId, rating: 'up' });
      }
    }, 'The whole breakdown'),
  ]);
  if (askingReason) {
    const send = (reason: string) => {
      askingReason = false;
      post({ type: 'rateOverall', sessionId: s.sessionId, rating: 'down', ...(reason.trim() ? { reason } : {}) });
    };
    const field = textfield('What was wrong? (optional)', 'reason', '', 'Reason for thumbs down (optional)', send);
    box.appendChild(
      el('div', { className: 'reason-row' }, [
        field,
        button('Send', 'reason-send', () => send((field as HTMLElement & { value: string }).value)),
        button('Skip', 'reason-skip', () => send(''), { secondary: true }),
      ]),
    );
  } else if (s.overallRating === 'down' && s.overallReason) {
    box.appendChild(el('div', { className: 'muted', text: `Reason: ${s.overallReason}` }));
  }
  return box;
}

function render(): void {
  const s = state;
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.focusKey;
  root.replaceChildren();
  if (!s) {
    return;
  }
  const header = el('header', {}, [
    el('h1', { text: 'Problem' }),
    el('vscode-badge', { className: `source ${s.source}`, text: s.source === 'teacher' ? `teacher: ${s.badge}` : `local: ${s.badge}`, attrs: { title: 'Where these steps came from' } }),
  ]);
  root.appendChild(header);
  root.appendChild(el('p', { className: 'problem', text: s.problem }));
  for (const warning of s.warnings) {
    root.appendChild(el('p', { className: 'warning', text: `⚠ ${warning}`, attrs: { role: 'note' } }));
  }
  if (s.error) {
    root.appendChild(el('p', { className: 'error', text: s.error, attrs: { role: 'alert' } }));
  }
  if (s.busy) {
    root.appendChild(el('p', { className: 'busy', attrs: { role: 'status' } }, [el('vscode-progress-ring'), el('span', { text: s.busy })]));
  }

  const visible = s.showAll ? s.steps.length : Math.min(s.current + 1, s.steps.length);
  root.appendChild(el('h2', { text: `Steps (${Math.min(s.current + 1, s.steps.length)} of ${s.steps.length})` }));
  if (s.steps.length === 0) {
    root.appendChild(el('p', { className: 'muted', text: 'The decomposer returned no sub-questions. Try Regenerate or rephrase the problem.' }));
  }
  const list = el('ol', { className: 'steps' });
  s.steps.slice(0, visible).forEach((step, i) => list.appendChild(renderStep(s, step, i)));
  root.appendChild(list);

  const lastStep = s.current >= s.steps.length - 1;
  root.appendChild(
    el('div', { className: 'actions' }, [
      button('Next step', 'next', () => post({ type: 'next', sessionId: s.sessionId }), { disabled: lastStep }),
      button('Show all steps', 'show-all', () => post({ type: 'showAll', sessionId: s.sessionId }), { secondary: true, disabled: s.showAll || lastStep }),
      button('Regenerate', 'regenerate', () => post({ type: 'regenerate', sessionId: s.sessionId }), { secondary: true, disabled: !!s.busy }),
      s.teacherAvailable
        ? button('Ask the teacher', 'ask-teacher', () => post({ type: 'askTeacher', sessionId: s.sessionId }), { secondary: true, disabled: !!s.busy })
        : undefined,
    ]),
  );
  if (s.feedbackEnabled) {
    root.appendChild(renderOverall(s));
  }
  if (s.notice) {
    root.appendChild(el('p', { className: 'notice', text: s.notice, attrs: { role: 'status' } }));
  }
  if (focused) {
    focusKey(focused);
  }
}

function focusKey(key: string): void {
  const target = root.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`);
  // Custom elements upgrade synchronously here (the bundle defined them), but focus only sticks
  // after their first render, hence the microtask.
  if (target) {
    void Promise.resolve().then(() => target.focus());
  }
}

window.addEventListener('message', (event: MessageEvent<ToPanel>) => {
  const message = event.data;
  if (message.type === 'state') {
    const previous = state;
    state = message.state;
    if (previous?.sessionId !== state.sessionId) {
      askingReason = false;
    }
    vscode.setState(state);
    render();
    // Moving to a new step puts the cursor in its answer box, so the whole flow works by keyboard.
    if (previous && previous.sessionId === state.sessionId && previous.current !== state.current) {
      focusKey(`answer-${state.current}`);
    }
  } else if (message.type === 'empty') {
    state = undefined;
    root.replaceChildren(el('p', { className: 'muted', text: message.message }));
  }
});

// After a reload the webview shows its last state at once; the host then sends the live one.
const saved = vscode.getState();
if (saved) {
  state = saved;
  render();
}
post({ type: 'ready' });
