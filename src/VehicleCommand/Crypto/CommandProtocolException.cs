namespace VehicleCommand.Crypto;

/// <summary>Why the broker refused a message of the Vehicle Command Protocol, or could not build one.</summary>
public enum CommandProtocolFailure
{
    /// <summary>The car's public key is not an uncompressed P-256 point on the curve.</summary>
    InvalidPublicKey,

    /// <summary>The answer to a handshake carries no session info, or no tag for it.</summary>
    SessionInfoMissing,

    /// <summary>The session info does not parse, or its epoch is not 16 bytes.</summary>
    SessionInfoMalformed,

    /// <summary>
    /// The session info's HMAC tag is wrong: altered on the way, meant for another VIN, another request (challenge) or
    /// another partner key. protocol.md: the client must discard it.
    /// </summary>
    SessionInfoTagInvalid,

    /// <summary>The car answered the handshake but does not know the partner's key (not paired).</summary>
    KeyNotPaired,

    /// <summary>A message is addressed to, or comes from, a domain other than the session's.</summary>
    WrongDomain,

    /// <summary>A metadata value is longer than the one-byte length of the TLV encoding allows, or a VIN is not ASCII.</summary>
    MetadataValueInvalid,

    /// <summary>A command has no plaintext payload to sign.</summary>
    PayloadMissing,

    /// <summary>The car's answer is not encrypted (no AES_GCM_Response_data), though the broker asked for encryption.</summary>
    ResponseNotEncrypted,

    /// <summary>The car's encrypted answer does not open: altered, or not the answer to this request in this session.</summary>
    ResponseNotAuthentic,
}

/// <summary>A refusal in the Vehicle Command Protocol layer, named by <see cref="Failure"/> so callers can act on it.</summary>
public sealed class CommandProtocolException(CommandProtocolFailure failure, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public CommandProtocolFailure Failure { get; } = failure;
}
