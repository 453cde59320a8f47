// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice A small contract the transaction tests call: it counts calls per caller and can revert
/// with a reason, so success, revert reasons and exactly-once effects are all observable on chain.
contract ExecutionProbe {
    mapping(address => uint256) public callsBy;
    uint256 public totalCalls;

    event Poked(address indexed caller, uint256 indexed tag, uint256 total);

    function poke(uint256 tag) external payable {
        callsBy[msg.sender] += 1;
        totalCalls += 1;
        emit Poked(msg.sender, tag, totalCalls);
    }

    function fail(string calldata reason) external pure {
        revert(reason);
    }
}
