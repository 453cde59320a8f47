/**
 * Fee arithmetic of the processor: pure functions of the fees already signed, the network's current
 * fees and the cap. A replacement must clear the node's bump threshold on both fields.
 */
import type { FeeFields } from "./types.ts";

const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);

/**
 * Fees of a replacement: both fields raised by at least `percent` over the previous ones (nodes
 * refuse smaller bumps as underpriced) and at least to the network's current fees.
 * `null` when that would exceed the cap: the caller blocks instead of spending more.
 */
export function bumpFees(previous: FeeFields, current: FeeFields, percent: number, capWei: bigint): FeeFields | null {
  const factor = BigInt(Math.round(percent * 100));
  const bump = (value: bigint) => value + (value * factor + 9_999n) / 10_000n;
  const priority = max(bump(BigInt(previous.maxPriorityFeePerGas)), BigInt(current.maxPriorityFeePerGas));
  const maxFee = max(max(bump(BigInt(previous.maxFeePerGas)), BigInt(current.maxFeePerGas)), priority);
  if (maxFee > capWei) return null;
  return { maxFeePerGas: maxFee.toString(), maxPriorityFeePerGas: priority.toString() };
}

/**
 * Fees that the next block accepts: the node's EIP-1559 estimate, raised to twice the pending
 * block's base fee plus the tip when the estimate (read from the latest block) falls short of it.
 */
export function feesForNextBlock(estimate: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }, pendingBaseFee: bigint | null): FeeFields {
  const tip = estimate.maxPriorityFeePerGas;
  const maxFee = pendingBaseFee === null ? estimate.maxFeePerGas : max(estimate.maxFeePerGas, pendingBaseFee * 2n + tip);
  return { maxFeePerGas: maxFee.toString(), maxPriorityFeePerGas: tip.toString() };
}

/** Fees never above the cap: the tip is lowered with the fee if it has to be. */
export function capFees(fees: FeeFields, capWei: bigint): FeeFields {
  const maxFee = min(BigInt(fees.maxFeePerGas), capWei);
  return { maxFeePerGas: maxFee.toString(), maxPriorityFeePerGas: min(BigInt(fees.maxPriorityFeePerGas), maxFee).toString() };
}

/** The higher of two fee pairs, field by field: what a replacement must clear. */
export function highestFees(a: FeeFields, b: FeeFields): FeeFields {
  return {
    maxFeePerGas: max(BigInt(a.maxFeePerGas), BigInt(b.maxFeePerGas)).toString(),
    maxPriorityFeePerGas: max(BigInt(a.maxPriorityFeePerGas), BigInt(b.maxPriorityFeePerGas)).toString(),
  };
}
