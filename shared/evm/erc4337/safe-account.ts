/**
 * A Safe multisig account driven through ERC-4337 (EntryPoint v0.7 and the Safe 4337 module 0.3.0):
 * its counterfactual address from owners, threshold and salt, the init code that deploys it with
 * its first user operation, the call data the module executes, the EIP-712 `SafeOp` each owner
 * signs, and the signature bytes the module checks (owners' signatures sorted by owner address,
 * after the validity window). Pure except where a client is passed in.
 *
 * The contract addresses are those the deterministic CREATE2 deployer gives the audited npm
 * artifacts with a zero salt (infra/local/erc4337-contracts.ts deploys them on a local chain).
 */
import { getUserOperationHash } from "viem/account-abstraction";
import {
  concat,
  encodeFunctionData,
  encodePacked,
  getAddress,
  getContractAddress,
  hashTypedData,
  keccak256,
  pad,
  parseAbi,
  toHex,
  zeroAddress,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";

/** EntryPoint v0.7 at its canonical address (the same on every chain it is deployed on). */
export const ENTRY_POINT_V07: Address = "0x0000000071727De22E5E9d8BAf0edAc6f37da032";

/** The Safe 4337 contracts a ddwf Safe account is made from. */
export type SafeContracts = {
  /** Safe (L2) singleton 1.4.1, what every proxy delegates to. */
  singleton: Address;
  proxyFactory: Address;
  /** Safe4337Module 0.3.0 (bound to EntryPoint v0.7): the account's module and fallback handler. */
  module: Address;
  /** SafeModuleSetup 0.3.0: enables the module during `setup`. */
  moduleSetup: Address;
};

/** Where the deterministic deployer puts the npm artifacts (zero salt) on any chain. */
export const SAFE_CONTRACTS: SafeContracts = {
  singleton: "0x76667330c237Fb40f28d74563cdAAae4b06C23Ec",
  proxyFactory: "0xd9d2Ba03a7754250FDD71333F444636471CACBC4",
  module: "0x75cf11467937ce3F2f357CE24ffc3DBF8fD5c226",
  moduleSetup: "0x2dd68b007B46fBe91B9A7c3EDa5A7a1063cB5b47",
};

export const safeAbi = parseAbi([
  "function setup(address[] _owners, uint256 _threshold, address to, bytes data, address fallbackHandler, address paymentToken, uint256 payment, address paymentReceiver)",
  "function getOwners() view returns (address[])",
  "function getThreshold() view returns (uint256)",
  "function isModuleEnabled(address module) view returns (bool)",
]);
export const safeProxyFactoryAbi = parseAbi([
  "function createProxyWithNonce(address _singleton, bytes initializer, uint256 saltNonce) returns (address proxy)",
  "function proxyCreationCode() pure returns (bytes)",
]);
export const safeModuleSetupAbi = parseAbi(["function enableModules(address[] modules)"]);
export const safe4337ModuleAbi = parseAbi([
  "function executeUserOpWithErrorString(address to, uint256 value, bytes data, uint8 operation)",
  "function getOperationHash((address sender, uint256 nonce, bytes initCode, bytes callData, bytes32 accountGasLimits, uint256 preVerificationGas, bytes32 gasFees, bytes paymasterAndData, bytes signature) userOp) view returns (bytes32)",
]);
export const entryPointAbi = parseAbi([
  "function getNonce(address sender, uint192 key) view returns (uint256 nonce)",
  "function balanceOf(address account) view returns (uint256)",
  "event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed)",
]);

/** Owners (any case, any order) as the Safe stores them: checksummed, ascending, without repeats. */
export function normalisedOwners(owners: readonly string[]): Address[] {
  const unique = [...new Set(owners.map((owner) => getAddress(owner)))];
  return unique.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
}

/** The `setup` call a new Safe proxy runs: owners, threshold, the 4337 module enabled and set as fallback handler. */
export function safeInitializer(parameters: { owners: readonly string[]; threshold: number; contracts?: SafeContracts }): Hex {
  const contracts = parameters.contracts ?? SAFE_CONTRACTS;
  return encodeFunctionData({
    abi: safeAbi,
    functionName: "setup",
    args: [
      normalisedOwners(parameters.owners),
      BigInt(parameters.threshold),
      contracts.moduleSetup,
      encodeFunctionData({ abi: safeModuleSetupAbi, functionName: "enableModules", args: [[contracts.module]] }),
      contracts.module,
      zeroAddress,
      0n,
      zeroAddress,
    ],
  });
}

/** The factory and its call that deploy the account (the user operation's `factory` and `factoryData`). */
export function safeFactoryCall(parameters: { owners: readonly string[]; threshold: number; saltNonce: bigint; contracts?: SafeContracts }): { factory: Address; factoryData: Hex } {
  const contracts = parameters.contracts ?? SAFE_CONTRACTS;
  return {
    factory: contracts.proxyFactory,
    factoryData: encodeFunctionData({
      abi: safeProxyFactoryAbi,
      functionName: "createProxyWithNonce",
      args: [contracts.singleton, safeInitializer(parameters), parameters.saltNonce],
    }),
  };
}

/**
 * The address the factory gives the account (CREATE2 over the initializer and salt nonce).
 * `proxyCreationCode` is the factory's `proxyCreationCode()`; read it once with `readProxyCreationCode`.
 */
export function predictSafeAddress(parameters: { owners: readonly string[]; threshold: number; saltNonce: bigint; proxyCreationCode: Hex; contracts?: SafeContracts }): Address {
  const contracts = parameters.contracts ?? SAFE_CONTRACTS;
  const salt = keccak256(encodePacked(["bytes32", "uint256"], [keccak256(safeInitializer(parameters)), parameters.saltNonce]));
  const bytecode = concat([parameters.proxyCreationCode, pad(contracts.singleton, { size: 32 })]);
  return getContractAddress({ opcode: "CREATE2", from: contracts.proxyFactory, salt, bytecode });
}

export async function readProxyCreationCode(client: PublicClient, contracts: SafeContracts = SAFE_CONTRACTS): Promise<Hex> {
  return client.readContract({ address: contracts.proxyFactory, abi: safeProxyFactoryAbi, functionName: "proxyCreationCode" });
}

/** The call data of a user operation that makes the account call `target` (a revert carries the target's reason). */
export function safeCallData(call: { target: Address; value: bigint; data: Hex }): Hex {
  return encodeFunctionData({ abi: safe4337ModuleAbi, functionName: "executeUserOpWithErrorString", args: [call.target, call.value, call.data, 0] });
}

/** An unpacked v0.7 user operation without its signature (bigints as decimal strings, so it can be journaled). */
export type UnsignedUserOperation = {
  sender: Address;
  nonce: string;
  factory: Address | null;
  factoryData: Hex | null;
  callData: Hex;
  callGasLimit: string;
  verificationGasLimit: string;
  preVerificationGas: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
};

export const SAFE_OP_TYPES = {
  SafeOp: [
    { type: "address", name: "safe" },
    { type: "uint256", name: "nonce" },
    { type: "bytes", name: "initCode" },
    { type: "bytes", name: "callData" },
    { type: "uint128", name: "verificationGasLimit" },
    { type: "uint128", name: "callGasLimit" },
    { type: "uint256", name: "preVerificationGas" },
    { type: "uint128", name: "maxPriorityFeePerGas" },
    { type: "uint128", name: "maxFeePerGas" },
    { type: "bytes", name: "paymasterAndData" },
    { type: "uint48", name: "validAfter" },
    { type: "uint48", name: "validUntil" },
    { type: "address", name: "entryPoint" },
  ],
} as const;

/** The EIP-712 typed data an owner signs to approve `operation` (valid from now on, without end). */
export function safeOperationTypedData(operation: UnsignedUserOperation, chainId: number, contracts: SafeContracts = SAFE_CONTRACTS) {
  return {
    domain: { chainId, verifyingContract: contracts.module },
    types: SAFE_OP_TYPES,
    primaryType: "SafeOp" as const,
    message: {
      safe: operation.sender,
      nonce: BigInt(operation.nonce),
      initCode: operation.factory ? concat([operation.factory, operation.factoryData ?? "0x"]) : ("0x" as Hex),
      callData: operation.callData,
      verificationGasLimit: BigInt(operation.verificationGasLimit),
      callGasLimit: BigInt(operation.callGasLimit),
      preVerificationGas: BigInt(operation.preVerificationGas),
      maxPriorityFeePerGas: BigInt(operation.maxPriorityFeePerGas),
      maxFeePerGas: BigInt(operation.maxFeePerGas),
      paymasterAndData: "0x" as Hex,
      validAfter: 0,
      validUntil: 0,
      entryPoint: ENTRY_POINT_V07,
    },
  };
}

/** The hash an owner's signature is checked against (what the module's `getOperationHash` answers). */
export function safeOperationHash(operation: UnsignedUserOperation, chainId: number, contracts: SafeContracts = SAFE_CONTRACTS): Hex {
  return hashTypedData(safeOperationTypedData(operation, chainId, contracts));
}

/**
 * The user operation's `signature`: the validity window (validAfter 0, validUntil 0) and then the
 * owners' 65-byte signatures in ascending owner order, as Safe's `checkSignatures` reads them.
 */
export function packSafeSignatures(signatures: readonly { owner: string; signature: Hex }[]): Hex {
  const sorted = [...signatures].sort((a, b) => (BigInt(a.owner) < BigInt(b.owner) ? -1 : 1));
  return concat([encodePacked(["uint48", "uint48"], [0, 0]), ...sorted.map((entry) => entry.signature)]);
}

/**
 * A stand-in signature of the right length for gas estimation: `threshold` signatures that recover
 * to no owner (the module reports a signature failure instead of reverting, which estimation allows).
 */
export function dummySafeSignature(threshold: number): Hex {
  const one = concat([pad(toHex(1n), { size: 32 }), pad(toHex(1n), { size: 32 }), "0x1f"]);
  return concat([encodePacked(["uint48", "uint48"], [0, 0]), ...Array.from({ length: threshold }, () => one)]);
}

/**
 * Verification gas the stand-in signature does not use: Safe stops checking at the first signature
 * that recovers to no owner, while real ones cost an ecrecover and an owner lookup each. Added to
 * the bundler's estimate per signature needed.
 */
export const VERIFICATION_GAS_PER_SIGNATURE = 15_000n;

export function withSignatureGas<T extends { verificationGasLimit: string }>(estimate: T, threshold: number): T {
  return { ...estimate, verificationGasLimit: (BigInt(estimate.verificationGasLimit) + VERIFICATION_GAS_PER_SIGNATURE * BigInt(threshold)).toString() };
}

/** The packed form the EntryPoint and the module read (for `getOperationHash`). */
export function packedUserOperation(operation: UnsignedUserOperation, signature: Hex) {
  return {
    sender: operation.sender,
    nonce: BigInt(operation.nonce),
    initCode: operation.factory ? concat([operation.factory, operation.factoryData ?? "0x"]) : ("0x" as Hex),
    callData: operation.callData,
    accountGasLimits: concat([pad(toHex(BigInt(operation.verificationGasLimit)), { size: 16 }), pad(toHex(BigInt(operation.callGasLimit)), { size: 16 })]),
    preVerificationGas: BigInt(operation.preVerificationGas),
    gasFees: concat([pad(toHex(BigInt(operation.maxPriorityFeePerGas)), { size: 16 }), pad(toHex(BigInt(operation.maxFeePerGas)), { size: 16 })]),
    paymasterAndData: "0x" as Hex,
    signature,
  };
}

/** The ERC-4337 user operation hash (EntryPoint v0.7), known before the operation is sent. */
export function userOperationHash(operation: UnsignedUserOperation, chainId: number): Hex {
  return getUserOperationHash({ chainId, entryPointAddress: ENTRY_POINT_V07, entryPointVersion: "0.7", userOperation: { ...userOperationFields(operation), signature: "0x" } });
}

/** The operation with bigints, as viem's account-abstraction actions take it. */
export function userOperationFields(operation: UnsignedUserOperation) {
  return {
    sender: operation.sender,
    nonce: BigInt(operation.nonce),
    ...(operation.factory ? { factory: operation.factory, factoryData: operation.factoryData ?? ("0x" as Hex) } : {}),
    callData: operation.callData,
    callGasLimit: BigInt(operation.callGasLimit),
    verificationGasLimit: BigInt(operation.verificationGasLimit),
    preVerificationGas: BigInt(operation.preVerificationGas),
    maxFeePerGas: BigInt(operation.maxFeePerGas),
    maxPriorityFeePerGas: BigInt(operation.maxPriorityFeePerGas),
  };
}
