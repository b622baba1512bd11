using VehicleCommand.Crypto;
using System.Security.Cryptography;
using Google.Protobuf;
using VehicleCommand.Messages.Signatures;
using VehicleCommand.Messages.UniversalMessage;

namespace Broker.Commands.Protocol;

/// <summary>
/// Signs commands for a car and opens its answers (protocol.md, "Authorizing commands" and "Response handling").
/// A command is a <see cref="RoutableMessage"/> addressed to the session's domain whose
/// <c>protobuf_message_as_bytes</c> holds the plaintext (a <c>CarServer.Action</c> or a <c>VCSEC.UnsignedMessage</c>)
/// and whose <c>flags</c> are already set; signing fills <c>signature_data</c> and, for AES-GCM, replaces the payload
/// with its ciphertext. Both methods authenticate the same metadata (<see cref="CommandMetadata.ForCommand"/>): type,
/// domain, VIN, epoch, expiry, counter and non-zero flags, so a command cannot be moved to another car, domain or
/// session, kept past its expiry, or replayed with its counter.
/// <para>
/// Counter and expiry are the caller's: the counter must rise with every command of an epoch, and the expiry is in
/// seconds of the car's clock (its <see cref="VehicleSession.ClockTime"/> plus the time since, plus a lifetime).
/// </para>
/// </summary>
public static class CommandSigner
{
    /// <summary><c>1 &lt;&lt; FLAG_ENCRYPT_RESPONSE</c>: asks firmware 2024.38+ to encrypt its answer; older firmware ignores it.</summary>
    public const uint EncryptResponseFlag = 1u << (int)Flags.FlagEncryptResponse;

    /// <summary>VCSEC keeps only the first 16 bytes of an HMAC tag in a request hash (one type byte before them).</summary>
    private const int VehicleSecurityRequestHashLength = 1 + 16;

    /// <summary>
    /// Encrypts the command's payload with AES-GCM under <c>K</c>, a fresh random 12-byte nonce and SHA-256 of the
    /// metadata as associated data; names the partner's key as signer. What the Fleet API carries end to end unread.
    /// </summary>
    public static void Encrypt(RoutableMessage command, VehicleSession session, uint counter, uint expiresAt) =>
        Encrypt(command, session, counter, expiresAt, RandomNumberGenerator.GetBytes(SessionKey.NonceLength));

    /// <summary><see cref="Encrypt(RoutableMessage, VehicleSession, uint, uint)"/> with a given nonce, for published vectors.</summary>
    internal static void Encrypt(RoutableMessage command, VehicleSession session, uint counter, uint expiresAt, ReadOnlySpan<byte> nonce)
    {
        if (nonce.Length != SessionKey.NonceLength)
        {
            throw new ArgumentException($"AES-GCM nonces are {SessionKey.NonceLength} bytes.", nameof(nonce));
        }
        var plaintext = Plaintext(command, session);
        var metadata = CommandMetadata.ForCommand(SignatureType.AesGcmPersonalized, session.Domain, session.Vin, session.Epoch, expiresAt, counter, command.Flags);
        var (ciphertext, tag) = session.Key.Encrypt(nonce, plaintext, metadata);
        command.ProtobufMessageAsBytes = ByteString.CopyFrom(ciphertext);
        command.SignatureData = new SignatureData
        {
            SignerIdentity = new KeyIdentity { PublicKey = ByteString.CopyFrom(session.Key.PartnerPublicKey) },
            AESGCMPersonalizedData = new AES_GCM_Personalized_Signature_Data
            {
                Epoch = ByteString.CopyFrom(session.Epoch),
                Nonce = ByteString.CopyFrom(nonce),
                Counter = counter,
                ExpiresAt = expiresAt,
                Tag = ByteString.CopyFrom(tag),
            },
        };
    }

    /// <summary>
    /// Authenticates the command with HMAC-SHA256 under <c>HMAC-SHA256(K, "authenticated command")</c> over the
    /// metadata then the plaintext payload, which stays readable: the form Tesla's Fleet API needs to check OAuth scopes.
    /// </summary>
    public static void AuthorizeWithHmac(RoutableMessage command, VehicleSession session, uint counter, uint expiresAt)
    {
        var plaintext = Plaintext(command, session);
        var metadata = CommandMetadata.ForCommand(SignatureType.HmacPersonalized, session.Domain, session.Vin, session.Epoch, expiresAt, counter, command.Flags);
        command.SignatureData = new SignatureData
        {
            SignerIdentity = new KeyIdentity { PublicKey = ByteString.CopyFrom(session.Key.PartnerPublicKey) },
            HMACPersonalizedData = new HMAC_Personalized_Signature_Data
            {
                Epoch = ByteString.CopyFrom(session.Epoch),
                Counter = counter,
                ExpiresAt = expiresAt,
                Tag = ByteString.CopyFrom(session.Key.CommandTag(metadata, plaintext)),
            },
        };
    }

    /// <summary>
    /// The request hash of a signed command (protocol.md, "Request hash"): its signature type as one byte, then its
    /// tag; for VCSEC cut to 17 bytes (only HMAC tags are longer). The car puts it in its answer's metadata, which
    /// is what ties an answer to this one request.
    /// </summary>
    public static byte[] RequestHash(RoutableMessage signedCommand)
    {
        var (type, tag) = signedCommand.SignatureData?.SigTypeCase switch
        {
            SignatureData.SigTypeOneofCase.AESGCMPersonalizedData => (SignatureType.AesGcmPersonalized, signedCommand.SignatureData.AESGCMPersonalizedData.Tag),
            SignatureData.SigTypeOneofCase.HMACPersonalizedData => (SignatureType.HmacPersonalized, signedCommand.SignatureData.HMACPersonalizedData.Tag),
            _ => throw new ArgumentException("Only a command signed with AES-GCM or HMAC has a request hash.", nameof(signedCommand)),
        };
        var hash = new byte[1 + tag.Length];
        hash[0] = (byte)type;
        tag.Span.CopyTo(hash.AsSpan(1));
        var isVehicleSecurity = signedCommand.ToDestination is { SubDestinationCase: Destination.SubDestinationOneofCase.Domain, Domain: Domain.VehicleSecurity };
        return isVehicleSecurity && hash.Length > VehicleSecurityRequestHashLength ? hash[..VehicleSecurityRequestHashLength] : hash;
    }

    /// <summary>
    /// Opens the car's encrypted answer to the request whose hash is <paramref name="requestHash"/>: AES-GCM under
    /// <c>K</c> with the answer's nonce and tag, and SHA-256 of the response metadata (its domain, the VIN, its counter,
    /// its flags, the request hash and its message fault) as associated data. Returns the plaintext
    /// (<c>CarServer.Response</c> or <c>VCSEC.FromVCSECMessage</c>) and the answer's counter, which the caller must
    /// not have seen before for this request (protocol.md, "Counter verification"; a later phase's).
    /// </summary>
    public static (byte[] Plaintext, uint Counter) DecryptResponse(RoutableMessage response, VehicleSession session, ReadOnlySpan<byte> requestHash)
    {
        if (response.FromDestination is not { SubDestinationCase: Destination.SubDestinationOneofCase.Domain } from || from.Domain != session.Domain)
        {
            throw new CommandProtocolException(CommandProtocolFailure.WrongDomain, $"The answer does not come from the session's domain {session.Domain}.");
        }
        if (response.SignatureData?.SigTypeCase != SignatureData.SigTypeOneofCase.AESGCMResponseData)
        {
            throw new CommandProtocolException(CommandProtocolFailure.ResponseNotEncrypted, "The answer carries no AES-GCM response data.");
        }
        var data = response.SignatureData.AESGCMResponseData;
        if (data.Nonce.Length != SessionKey.NonceLength || data.Tag.Length != SessionKey.TagLength)
        {
            throw new CommandProtocolException(CommandProtocolFailure.ResponseNotAuthentic, "The answer's nonce or tag has the wrong length.");
        }
        var metadata = CommandMetadata.ForResponse(session.Domain, session.Vin, data.Counter, response.Flags, requestHash,
            response.SignedMessageStatus?.SignedMessageFault ?? MessageFault_E.RrorNone);
        try
        {
            return (session.Key.Decrypt(data.Nonce.Span, response.ProtobufMessageAsBytes.Span, data.Tag.Span, metadata), data.Counter);
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new CommandProtocolException(CommandProtocolFailure.ResponseNotAuthentic, "The answer does not open: altered, or not the answer to this request in this session.", e);
        }
    }

    private static ReadOnlySpan<byte> Plaintext(RoutableMessage command, VehicleSession session)
    {
        if (command.ToDestination is not { SubDestinationCase: Destination.SubDestinationOneofCase.Domain } to || to.Domain != session.Domain)
        {
            throw new CommandProtocolException(CommandProtocolFailure.WrongDomain, $"The command is not addressed to the session's domain {session.Domain}.");
        }
        if (command.PayloadCase != RoutableMessage.PayloadOneofCase.ProtobufMessageAsBytes)
        {
            throw new CommandProtocolException(CommandProtocolFailure.PayloadMissing, "The command carries no protobuf_message_as_bytes to sign.");
        }
        return command.ProtobufMessageAsBytes.Span;
    }
}
