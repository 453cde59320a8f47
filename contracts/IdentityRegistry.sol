// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice On-chain identities of investor wallets. Only the agent registers identities and moves an
/// identity from a lost wallet to a new one (recovery); reversing a recovery is the same call with
/// the wallets swapped.
contract IdentityRegistry {
    address public immutable agent;
    mapping(address => bytes32) public identityOf;

    event IdentityRegistered(bytes32 indexed identity, address indexed wallet);
    event IdentityRecovered(bytes32 indexed identity, address indexed lostWallet, address indexed newWallet);

    error NotAgent();
    error NoIdentity(address wallet);
    error WalletHasIdentity(address wallet);

    constructor(address agent_) {
        agent = agent_;
    }

    modifier onlyAgent() {
        if (msg.sender != agent) revert NotAgent();
        _;
    }

    function registerIdentity(address wallet, bytes32 identity) external onlyAgent {
        if (identityOf[wallet] != bytes32(0)) revert WalletHasIdentity(wallet);
        identityOf[wallet] = identity;
        emit IdentityRegistered(identity, wallet);
    }

    function recoverIdentity(address lostWallet, address newWallet) external onlyAgent {
        bytes32 identity = identityOf[lostWallet];
        if (identity == bytes32(0)) revert NoIdentity(lostWallet);
        if (identityOf[newWallet] != bytes32(0)) revert WalletHasIdentity(newWallet);
        delete identityOf[lostWallet];
        identityOf[newWallet] = identity;
        emit IdentityRecovered(identity, lostWallet, newWallet);
    }

    function isVerified(address wallet) external view returns (bool) {
        return identityOf[wallet] != bytes32(0);
    }
}
