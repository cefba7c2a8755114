import { userErrorCodes, type Result, type UserError, type UserErrorCode } from '../domain/result.js';
import { builder } from './builder.js';

export const UserErrorCodeEnum = builder.enumType('UserErrorCode', {
  description: 'Why a mutation refused the request; each value says when it occurs.',
  values: Object.fromEntries(Object.entries(userErrorCodes).map(([code, description]) => [code, { description }])) as {
    [code in UserErrorCode]: { description: string };
  },
});

export const UserErrorRef = builder.objectRef<UserError>('UserError').implement({
  description: 'A problem with the request that the caller can fix; the mutation changed nothing.',
  fields: (t) => ({
    code: t.expose('code', { type: UserErrorCodeEnum, description: 'What kind of problem, for programs.' }),
    message: t.exposeString('message', { description: 'What is wrong and how to fix it, for people.' }),
    field: t.exposeStringList('field', {
      nullable: true,
      description: 'Path to the input field at fault, e.g. ["input", "version"].',
    }),
  }),
});

export type Payload<K extends string, T> = { [key in K]?: T | null } & { userErrors: UserError[] };

/** Maps a domain result onto a `…Payload`: the object under `key`, or the user errors. */
export function toPayload<K extends string, T>(key: K, result: Result<T>): Payload<K, T> {
  return (result.ok ? { [key]: result.value, userErrors: [] } : { [key]: null, userErrors: result.userErrors }) as Payload<K, T>;
}

export const DeletePayloadRef = builder.objectRef<{ deletedId?: string | null; userErrors: UserError[] }>('DeletePayload').implement({
  description: 'What a delete or revoke mutation answers.',
  fields: (t) => ({
    deletedId: t.exposeID('deletedId', { nullable: true, description: 'The global id of what was deleted; null when refused.' }),
    userErrors: t.field({ type: [UserErrorRef], description: 'Why the request was refused; empty on success.', resolve: (payload) => payload.userErrors }),
  }),
});
