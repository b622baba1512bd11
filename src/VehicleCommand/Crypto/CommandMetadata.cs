using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using VehicleCommand.Messages.Signatures;
using VehicleCommand.Messages.UniversalMessage;

namespace VehicleCommand.Crypto;

/// <summary>
/// The canonical metadata string that signatures in the Vehicle Command Protocol authenticate (protocol.md, "Metadata
/// serialization"): each item as tag (one byte, <see cref="Tag"/>), length (one byte) and value, items in ascending
/// tag order, integers as four big-endian bytes, and a final <c>0xFF</c> (<see cref="Tag.End"/>) that ends the string.
/// The encoding must be injective, so that no two sets of metadata give the same bytes: hence the length byte, the
/// strict order (a tag appears at most once), and the refusal of values longer than 255 bytes rather than a truncation.
/// </summary>
public sealed class CommandMetadata
{
    private readonly List<byte> _items = [];
    private int _lastTag = -1;

    /// <summary>Adds one item; tags must come in strictly ascending order.</summary>
    public CommandMetadata Add(Tag tag, ReadOnlySpan<byte> value)
    {
        if (tag == Tag.End || (int)tag <= _lastTag || (int)tag > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(tag), tag, "Metadata items are added once each, in ascending tag order, and never as the end marker.");
        }
        if (value.Length > byte.MaxValue)
        {
            throw new CommandProtocolException(CommandProtocolFailure.MetadataValueInvalid, $"Metadata value for {tag} is {value.Length} bytes; at most 255 fit the length byte.");
        }
        _lastTag = (int)tag;
        _items.Add((byte)tag);
        _items.Add((byte)value.Length);
        _items.AddRange(value);
        return this;
    }

    /// <summary>Adds an integer item, encoded as four big-endian bytes.</summary>
    public CommandMetadata AddUInt32(Tag tag, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return Add(tag, bytes);
    }

    /// <summary>The items followed by the end marker.</summary>
    public byte[] Serialize()
    {
        var bytes = new byte[_items.Count + 1];
        _items.CopyTo(bytes);
        bytes[^1] = (byte)Tag.End;
        return bytes;
    }

    /// <summary>SHA-256 of <see cref="Serialize"/>: the associated data of AES-GCM commands and responses.</summary>
    public byte[] Sha256() => SHA256.HashData(Serialize());

    /// <summary>
    /// What the car's session info tag covers besides the session info itself (protocol.md, "Response authentication"):
    /// signature type HMAC, the VIN, and the UUID of the handshake request as challenge.
    /// </summary>
    public static CommandMetadata ForSessionInfo(string vin, ReadOnlySpan<byte> challenge) => new CommandMetadata()
        .Add(Tag.SignatureType, [(byte)SignatureType.Hmac])
        .Add(Tag.Personalization, VinBytes(vin))
        .Add(Tag.Challenge, challenge);

    /// <summary>
    /// What a signed command authenticates (protocol.md, "Authorizing commands"): signature type, the domain it is
    /// addressed to, the VIN, the session's epoch, the expiry and counter, and the flags only when any is set (older
    /// firmware signs no flags item; a flag cleared on the way still breaks the signature because the item vanishes).
    /// </summary>
    public static CommandMetadata ForCommand(SignatureType signatureType, Domain domain, string vin, ReadOnlySpan<byte> epoch,
        uint expiresAt, uint counter, uint flags)
    {
        var metadata = new CommandMetadata()
            .Add(Tag.SignatureType, [(byte)signatureType])
            .Add(Tag.Domain, [DomainByte(domain)])
            .Add(Tag.Personalization, VinBytes(vin))
            .Add(Tag.Epoch, epoch)
            .AddUInt32(Tag.ExpiresAt, expiresAt)
            .AddUInt32(Tag.Counter, counter);
        return flags == 0 ? metadata : metadata.AddUInt32(Tag.Flags, flags);
    }

    /// <summary>
    /// What the car's encrypted answer authenticates (protocol.md, "Response metadata"): signature type AES-GCM
    /// response, the domain it comes from, the VIN, the answer's counter, its flags (always, even zero), the request
    /// hash that ties it to one request, and its message fault as a 32-bit integer.
    /// </summary>
    public static CommandMetadata ForResponse(Domain domain, string vin, uint counter, uint flags, ReadOnlySpan<byte> requestHash,
        MessageFault_E fault) => new CommandMetadata()
        .Add(Tag.SignatureType, [(byte)SignatureType.AesGcmResponse])
        .Add(Tag.Domain, [DomainByte(domain)])
        .Add(Tag.Personalization, VinBytes(vin))
        .AddUInt32(Tag.Counter, counter)
        .AddUInt32(Tag.Flags, flags)
        .Add(Tag.RequestHash, requestHash)
        .AddUInt32(Tag.Fault, (uint)fault);

    private static byte DomainByte(Domain domain) => (int)domain is >= 0 and <= byte.MaxValue
        ? (byte)domain
        : throw new CommandProtocolException(CommandProtocolFailure.MetadataValueInvalid, $"Domain {(int)domain} does not fit one byte.");

    private static byte[] VinBytes(string vin)
    {
        if (string.IsNullOrEmpty(vin) || !Ascii.IsValid(vin))
        {
            throw new CommandProtocolException(CommandProtocolFailure.MetadataValueInvalid, "The VIN personalises every signature and must be non-empty ASCII.");
        }
        return Encoding.ASCII.GetBytes(vin);
    }
}
