// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface ITokenAgentRole {
    function isAgent(address account) external view returns (bool);
}

/// @notice On-chain identities of investor wallets. Only the agent registers identities, sets their
/// jurisdiction, removes them, and moves an identity from a lost wallet to a new one (recovery);
/// reversing a recovery is the same call with the wallets swapped. Tokens are registered here by
/// the registry's agent or by an agent of the token itself.
contract IdentityRegistry {
    address public immutable agent;
    mapping(address => bytes32) public identityOf;
    /// @notice ISO 3166-1 numeric country code of the identity's jurisdiction; 0 when unknown.
    mapping(address => uint16) public countryOf;
    mapping(address => bool) public isRegisteredToken;

    event IdentityRegistered(bytes32 indexed identity, address indexed wallet);
    event IdentityRecovered(bytes32 indexed identity, address indexed lostWallet, address indexed newWallet);
    event IdentityRemoved(bytes32 indexed identity, address indexed wallet);
    event CountrySet(address indexed wallet, uint16 country);
    event TokenRegistered(address indexed token, address indexed registrar);

    error NotAgent();
    error NoIdentity(address wallet);
    error WalletHasIdentity(address wallet);
    error NotTokenAgent(address token, address caller);
    error TokenAlreadyRegistered(address token);

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
        countryOf[newWallet] = countryOf[lostWallet];
        delete countryOf[lostWallet];
        emit IdentityRecovered(identity, lostWallet, newWallet);
    }

    function setCountry(address wallet, uint16 country) external onlyAgent {
        if (identityOf[wallet] == bytes32(0)) revert NoIdentity(wallet);
        countryOf[wallet] = country;
        emit CountrySet(wallet, country);
    }

    /// @notice The wallet loses its identity: it is no longer verified, and compliant tokens refuse it.
    function removeIdentity(address wallet) external onlyAgent {
        bytes32 identity = identityOf[wallet];
        if (identity == bytes32(0)) revert NoIdentity(wallet);
        delete identityOf[wallet];
        delete countryOf[wallet];
        emit IdentityRemoved(identity, wallet);
    }

    function registerToken(address token) external {
        if (msg.sender != agent && !ITokenAgentRole(token).isAgent(msg.sender)) revert NotTokenAgent(token, msg.sender);
        if (isRegisteredToken[token]) revert TokenAlreadyRegistered(token);
        isRegisteredToken[token] = true;
        emit TokenRegistered(token, msg.sender);
    }

    function isVerified(address wallet) external view returns (bool) {
        return identityOf[wallet] != bytes32(0);
    }
}
