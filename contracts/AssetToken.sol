// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice What an AssetToken and its compliance read from the identity registry.
interface IInvestorRegistry {
    function isVerified(address wallet) external view returns (bool);
    function countryOf(address wallet) external view returns (uint16);
}

/// @notice What the compliance rules ask of their token.
interface ITokenAgents {
    function isAgent(address account) external view returns (bool);
}

/// @notice The transfer rules of one AssetToken, created by the token itself: a receiver must hold a
/// verified identity from an allowed jurisdiction, and the number of holders stays within a limit.
/// Nothing can be received before the token's agent has configured the rules.
/// Reverts carry plain string reasons, which any client decodes without this contract's ABI.
contract TokenCompliance {
    ITokenAgents public immutable token;
    IInvestorRegistry public immutable registry;
    bool public configured;
    uint256 public maxHolders;
    mapping(uint16 => bool) public jurisdictionAllowed;
    uint16[] private allowed;

    event ComplianceConfigured(uint256 maxHolders, uint16[] jurisdictions);

    constructor(address registry_) {
        token = ITokenAgents(msg.sender);
        registry = IInvestorRegistry(registry_);
    }

    /// @notice Replaces the rules: the holder limit and the jurisdictions (ISO 3166-1 numeric) allowed to hold.
    function configure(uint256 maxHolders_, uint16[] calldata jurisdictions) external {
        require(token.isAgent(msg.sender), "compliance: caller is not an agent");
        require(maxHolders_ > 0, "compliance: holder limit is zero");
        require(jurisdictions.length > 0, "compliance: no jurisdiction allowed");
        for (uint256 i = 0; i < allowed.length; i++) jurisdictionAllowed[allowed[i]] = false;
        delete allowed;
        for (uint256 i = 0; i < jurisdictions.length; i++) {
            jurisdictionAllowed[jurisdictions[i]] = true;
            allowed.push(jurisdictions[i]);
        }
        maxHolders = maxHolders_;
        configured = true;
        emit ComplianceConfigured(maxHolders_, jurisdictions);
    }

    function allowedJurisdictions() external view returns (uint16[] memory) {
        return allowed;
    }

    /// @notice Reverts with the broken rule when `to` may not receive, `holdersAfter` being the
    /// number of holders the token would have afterwards.
    function checkReceiver(address to, uint256 holdersAfter) external view {
        require(configured, "compliance: rules not configured");
        require(registry.isVerified(to), "compliance: receiver not verified");
        require(jurisdictionAllowed[registry.countryOf(to)], "compliance: jurisdiction not allowed");
        require(holdersAfter <= maxHolders, "compliance: holder limit reached");
    }
}

/// @notice An ERC-20 security token. The admin grants and revokes the agent role; agents mint, and
/// pause or resume transfers. Every mint and transfer passes the token's compliance rules.
contract AssetToken is ITokenAgents {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    IInvestorRegistry public immutable registry;
    TokenCompliance public immutable compliance;
    address public admin;
    bool public paused;
    uint256 public totalSupply;
    uint256 public holderCount;
    mapping(address => bool) public isAgent;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event AgentAdded(address indexed agent);
    event AgentRemoved(address indexed agent);
    event Paused(address indexed agent);
    event Unpaused(address indexed agent);

    constructor(string memory name_, string memory symbol_, uint8 decimals_, address admin_, address agent_, address registry_) {
        require(admin_ != address(0) && agent_ != address(0) && registry_ != address(0), "token: zero address");
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        admin = admin_;
        registry = IInvestorRegistry(registry_);
        compliance = new TokenCompliance(registry_);
        isAgent[agent_] = true;
        emit AgentAdded(agent_);
    }

    modifier onlyAdmin() {
        require(msg.sender == admin, "token: caller is not the admin");
        _;
    }

    modifier onlyAgent() {
        require(isAgent[msg.sender], "token: caller is not an agent");
        _;
    }

    function addAgent(address agent) external onlyAdmin {
        isAgent[agent] = true;
        emit AgentAdded(agent);
    }

    function removeAgent(address agent) external onlyAdmin {
        isAgent[agent] = false;
        emit AgentRemoved(agent);
    }

    /// @notice Stops transfers and mints. Pausing a paused token changes nothing and does not revert,
    /// so a compensation that finds the token already paused still succeeds.
    function pause() external onlyAgent {
        paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external onlyAgent {
        paused = false;
        emit Unpaused(msg.sender);
    }

    function mint(address to, uint256 amount) external onlyAgent {
        require(amount > 0, "token: zero amount");
        _move(address(0), to, amount);
        totalSupply += amount;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "token: allowance exceeded");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
        return true;
    }

    /// @dev Mints when `from` is zero. Checks the pause and the receiver's compliance with the
    /// holder count the move would leave, then moves.
    function _move(address from, address to, uint256 amount) private {
        require(!paused, "token: paused");
        require(to != address(0), "token: zero address");
        uint256 holders = holderCount;
        if (from != to && amount > 0) {
            if (balanceOf[to] == 0) holders += 1;
            if (from != address(0) && balanceOf[from] == amount) holders -= 1;
        }
        compliance.checkReceiver(to, holders);
        if (from != address(0)) {
            uint256 balance = balanceOf[from];
            require(balance >= amount, "token: balance too low");
            unchecked {
                balanceOf[from] = balance - amount;
            }
        }
        balanceOf[to] += amount;
        holderCount = holders;
        emit Transfer(from, to, amount);
    }
}
