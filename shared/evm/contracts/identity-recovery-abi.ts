/** The parts of IdentityRegistry and PermissionedToken (contracts/) the recovery workflow calls. */
import { parseAbi } from "viem";

export const identityRegistryAbi = parseAbi([
  "function recoverIdentity(address lostWallet, address newWallet)",
  "function identityOf(address wallet) view returns (bytes32)",
  "function isVerified(address wallet) view returns (bool)",
]);

export const permissionedTokenAbi = parseAbi([
  "function forcedTransfer(address from, address to, uint256 amount)",
  "function balanceOf(address wallet) view returns (uint256)",
]);
