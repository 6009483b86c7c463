// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A hostile smart-contract wallet for tests: it signs by ERC-1271 for its owner key, acts through
/// `execute`, and from its ERC-1155 receiver hooks re-enters with the calls queued by `arm` (one per hook
/// call, in order). A re-entrant call that reverts does not make the hook revert: its revert data is kept
/// (`Reentered` event) so that a test can decode the refusal while the outer operation completes.
contract ReentrantWallet is IERC1271, IERC1155Receiver {
    struct Attack {
        address target;
        bytes data;
    }

    address public immutable owner;
    Attack[] private _attacks;
    uint256 public fired;
    uint256 public hooks;

    event Reentered(uint256 indexed index, address target, bool ok, bytes result);
    event HookCalled(address token, address operator, address from, uint256 id, uint256 value);

    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice Queues a call to make from the next receiver hook.
    function arm(address target, bytes calldata data) external {
        require(msg.sender == owner, "owner");
        _attacks.push(Attack(target, data));
    }

    /// @notice A call as this wallet (the participant acting directly).
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == owner, "owner");
        (bool ok, bytes memory result) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
        return result;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == owner ? this.isValidSignature.selector : bytes4(0);
    }

    function onERC1155Received(address operator, address from, uint256 id, uint256 value, bytes calldata)
        external
        returns (bytes4)
    {
        emit HookCalled(msg.sender, operator, from, id, value);
        _reenter();
        return this.onERC1155Received.selector;
    }

    function onERC1155BatchReceived(address operator, address from, uint256[] calldata ids, uint256[] calldata, bytes calldata)
        external
        returns (bytes4)
    {
        emit HookCalled(msg.sender, operator, from, ids.length == 0 ? 0 : ids[0], 0);
        _reenter();
        return this.onERC1155BatchReceived.selector;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC1155Receiver).interfaceId || interfaceId == type(IERC165).interfaceId
            || interfaceId == type(IERC1271).interfaceId;
    }

    function _reenter() private {
        ++hooks;
        uint256 i = fired;
        if (i >= _attacks.length) return;
        fired = i + 1;
        Attack memory a = _attacks[i];
        (bool ok, bytes memory result) = a.target.call(a.data);
        emit Reentered(i, a.target, ok, result);
    }
}
