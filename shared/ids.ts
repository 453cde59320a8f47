/** Identifiers: ULIDs (time-ordered, 26 Crockford base-32 characters) with a type prefix. */
import { randomBytes } from "node:crypto";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export function ulid(now = Date.now()): string {
  let time = "";
  let remaining = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[remaining % 32] + time;
    remaining = Math.floor(remaining / 32);
  }
  const random = randomBytes(16);
  let tail = "";
  for (let i = 0; i < 16; i++) tail += CROCKFORD[random[i]! % 32];
  return time + tail;
}

export const INVITATION_ID_PATTERN = /^invitation_[0-9A-HJKMNP-TV-Z]{26}$/;

export function newInvitationId(): string {
  return `invitation_${ulid()}`;
}
