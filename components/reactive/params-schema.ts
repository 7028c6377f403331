import fastestValidator from 'fastest-validator';
import type { ValidationSchema } from 'fastest-validator';
import { messageOf } from 'kindling';

type Validator = import('fastest-validator').default;
// A CommonJS class: its typings declare it as the default export, Node hands it over as the module itself.
const ValidatorClass = ((fastestValidator as unknown as { default?: unknown }).default ??
  fastestValidator) as unknown as new () => Validator;
let validator: Validator | undefined;

/** A copy of a schema: fastest-validator edits what it compiles, and entry data is frozen. */
function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, clone(field)]));
}

/**
 * Checks that `schema` is a fastest-validator schema (as Moleculer's event `params`), by compiling
 * it, and returns the reason when it is not. The bus compiles it again for the running listener.
 */
export function paramsSchemaProblem(schema: Readonly<Record<string, unknown>>): string | undefined {
  try {
    (validator ??= new ValidatorClass()).compile(clone(schema) as ValidationSchema);
    return undefined;
  } catch (error) {
    return `params is not a fastest-validator schema: ${messageOf(error)}`;
  }
}

/** A writable copy of a schema, to hand to the bus. */
export function copySchema(schema: Readonly<Record<string, unknown>>): ValidationSchema {
  return clone(schema) as ValidationSchema;
}
