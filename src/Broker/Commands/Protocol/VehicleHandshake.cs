using VehicleCommand.Crypto;
using System.Security.Cryptography;
using Google.Protobuf;
using VehicleCommand.Messages.Signatures;
using VehicleCommand.Messages.UniversalMessage;

namespace Broker.Commands.Protocol;

/// <summary>
/// The handshake that opens a session with one domain of a car (protocol.md, "Handshake"): the broker sends its public
/// key in a <c>session_info_request</c>; the car answers with its <see cref="SessionInfo"/> (its own public key, epoch,
/// clock and counter) and an HMAC tag over it that only a holder of the agreed key can make. The broker trusts the
/// session info only once that tag checks out; otherwise a man in the middle could, for instance, set the car's clock
/// back so that commands expire later than the broker meant.
/// </summary>
public static class VehicleHandshake
{
    /// <summary>Epochs are 16 random bytes.</summary>
    public const int EpochLength = 16;

    /// <summary>
    /// The handshake request to <paramref name="domain"/>. <paramref name="uuid"/> must be unpredictable: the car binds
    /// its answer to it (the challenge), which is what keeps an old answer from being replayed.
    /// </summary>
    public static RoutableMessage Request(Domain domain, ReadOnlySpan<byte> partnerPublicKey, ReadOnlySpan<byte> routingAddress, ReadOnlySpan<byte> uuid) => new()
    {
        ToDestination = new Destination { Domain = domain },
        FromDestination = new Destination { RoutingAddress = ByteString.CopyFrom(routingAddress) },
        SessionInfoRequest = new SessionInfoRequest { PublicKey = ByteString.CopyFrom(partnerPublicKey) },
        Uuid = ByteString.CopyFrom(uuid),
    };

    /// <summary>
    /// Accepts the car's answer to the handshake request whose UUID was <paramref name="requestUuid"/>: parses the
    /// session info, agrees the key with the public key it names, and checks the tag for this VIN and challenge.
    /// Throws <see cref="CommandProtocolException"/> for an answer the broker must discard.
    /// </summary>
    public static VehicleSession Accept(ECDsa partnerKey, string vin, Domain domain, ReadOnlySpan<byte> requestUuid, RoutableMessage response)
    {
        if (response.FromDestination is { SubDestinationCase: Destination.SubDestinationOneofCase.Domain } from && from.Domain != domain)
        {
            throw new CommandProtocolException(CommandProtocolFailure.WrongDomain, $"The handshake went to {domain} but the answer comes from {from.Domain}.");
        }
        if (response.PayloadCase != RoutableMessage.PayloadOneofCase.SessionInfo
            || response.SignatureData?.SigTypeCase != SignatureData.SigTypeOneofCase.SessionInfoTag)
        {
            throw new CommandProtocolException(CommandProtocolFailure.SessionInfoMissing, "The answer carries no tagged session info.");
        }
        var encoded = response.SessionInfo.Span;
        SessionInfo info;
        try
        {
            info = SessionInfo.Parser.ParseFrom(encoded);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new CommandProtocolException(CommandProtocolFailure.SessionInfoMalformed, "The session info does not parse.", e);
        }
        var key = SessionKey.Derive(partnerKey, info.PublicKey.Span);
        if (!key.IsAuthenticSessionInfo(vin, requestUuid, encoded, response.SignatureData.SessionInfoTag.Tag.Span))
        {
            throw new CommandProtocolException(CommandProtocolFailure.SessionInfoTagInvalid, "The session info's tag is wrong for this VIN, request and key; discarded.");
        }
        // Checked only after the tag, so that nothing unauthenticated decides what the broker reports.
        if (info.Status == Session_Info_Status.KeyNotOnWhitelist)
        {
            throw new CommandProtocolException(CommandProtocolFailure.KeyNotPaired, $"The car's {domain} does not know the partner's key.");
        }
        if (info.Epoch.Length != EpochLength)
        {
            throw new CommandProtocolException(CommandProtocolFailure.SessionInfoMalformed, $"The session info's epoch is {info.Epoch.Length} bytes, not {EpochLength}.");
        }
        return new VehicleSession(domain, vin, key, info.Epoch.ToByteArray(), info.Counter, info.ClockTime);
    }
}
