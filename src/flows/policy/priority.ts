import type { Level, Priority } from '../incident/model';

/** DOMAIN.md §2: impact (rows) × urgency (columns). */
export const PRIORITY_MATRIX: Readonly<Record<Level, Readonly<Record<Level, Priority>>>> = {
  high: { high: 'P1', medium: 'P2', low: 'P3' },
  medium: { high: 'P2', medium: 'P3', low: 'P4' },
  low: { high: 'P3', medium: 'P4', low: 'P4' },
};

/**
 * Priority of a new report. A key user's report is raised one level, but never automatically
 * to P1 (a major incident is a human decision, DOMAIN.md §2 / seed 002).
 */
export function priorityFor(impact: Level, urgency: Level, keyUser: boolean): Priority {
  const base = PRIORITY_MATRIX[impact][urgency];
  if (!keyUser) return base;
  switch (base) {
    case 'P4':
      return 'P3';
    case 'P3':
      return 'P2';
    default:
      return base;
  }
}
