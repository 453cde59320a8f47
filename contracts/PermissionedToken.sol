// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IIdentityRegistry {
    function isVerified(address wallet) external view returns (bool);
}

/// @notice A token only verified identities may hold and receive. Its agent mints, pauses, and moves
/// balances by force (the recovery of a lost wallet, and the undoing of such a move).
contract PermissionedToken {
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    address public immutable agent;
    IIdentityRegistry public immutable registry;
    bool public paused;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Paused(bool paused);

    error NotAgent();
    error NotVerified(address wallet);
    error TokenPaused();
    error InsufficientBalance(address wallet, uint256 balance, uint256 needed);

    constructor(string memory name_, string memory symbol_, address agent_, address registry_) {
        name = name_;
        symbol = symbol_;
        agent = agent_;
        registry = IIdentityRegistry(registry_);
    }

    modifier onlyAgent() {
        if (msg.sender != agent) revert NotAgent();
        _;
    }

    function setPaused(bool paused_) external onlyAgent {
        paused = paused_;
        emit Paused(paused_);
    }

    function mint(address to, uint256 amount) external onlyAgent {
        if (!registry.isVerified(to)) revert NotVerified(to);
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        if (paused) revert TokenPaused();
        if (!registry.isVerified(msg.sender)) revert NotVerified(msg.sender);
        if (!registry.isVerified(to)) revert NotVerified(to);
        _move(msg.sender, to, amount);
        return true;
    }

    /// @notice The agent moves a balance regardless of the holder: recovery of a lost wallet, or its undoing.
    function forcedTransfer(address from, address to, uint256 amount) external onlyAgent {
        if (paused) revert TokenPaused();
        _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) private {
        uint256 balance = balanceOf[from];
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        unchecked {
            balanceOf[from] = balance - amount;
        }
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
