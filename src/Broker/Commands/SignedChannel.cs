using System.Security.Cryptography;
using Broker.Commands.Protocol;
using Broker.Data;
using Broker.Tesla;
using Google.Protobuf;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using VehicleCommand.Crypto;
using VehicleCommand.Messages.CarServer;
using VehicleCommand.Messages.UniversalMessage;
using VehicleCommand.Messages.Vcsec;

namespace Broker.Commands;

/// <summary>What one send through a channel gave: the outcome, why, and how many Fleet API calls it took.</summary>
public sealed record ChannelResult(string Outcome, string? Reason, int FleetCalls);

/// <summary>The car does not hold the partner's key (its answer to a handshake or a command said so).</summary>
public sealed class KeyNotPairedException(int fleetCalls) : Exception("The car does not know the partner's key: the owner has to pair it.")
{
    public int FleetCalls { get; } = fleetCalls;
}

/// <summary>
/// Sends a command signed end to end (Vehicle Command Protocol, docs/commands-protocol.md) through
/// <c>signed_command</c>: HMAC-personalised, so the Fleet API can read what it checks scopes against, with an
/// encrypted answer asked for. The session per car domain lives in Postgres (<see cref="CommandSession"/>), so every
/// replica uses one counter sequence: the next counter is taken with one atomic UPDATE, never from memory.
/// A session the car no longer accepts (a new epoch after a reboot, an expired clock, a counter it has passed) is
/// opened again once and the command signed anew; a second refusal is the answer.
/// </summary>
public sealed class SignedChannel(BrokerDbContext db, TeslaFleetClient fleet, Partner.PartnerKeys partnerKeys, SessionKeyCache keys, TimeProvider time,
    IOptions<CommandOptions> options, ILogger<SignedChannel> logger)
{
    /// <summary>The car's faults that mean "your session is stale": open a new one and try once more.</summary>
    private static readonly HashSet<MessageFault_E> StaleSession =
        [MessageFault_E.RrorIncorrectEpoch, MessageFault_E.RrorTimeExpired, MessageFault_E.RrorInvalidTokenOrCounter];

    /// <summary>Whether there is a partner key to sign with at all.</summary>
    public async Task<bool> CanSignAsync(CancellationToken ct) => await partnerKeys.CurrentAsync(ct) is not null;

    /// <summary>Sends <paramref name="payload"/> to the car's <paramref name="domain"/>; throws <see cref="KeyNotPairedException"/>.</summary>
    public async Task<ChannelResult> SendAsync(FleetAccount caller, Guid vehicleId, string vin, Domain domain, ByteString payload, CancellationToken ct)
    {
        var partner = new PartnerKey(await partnerKeys.CurrentAsync(ct) is { } current
            ? current.Id : throw new InvalidOperationException("No partner key: the operator has to create one before commands can be signed."), partnerKeys);
        await using (partner)
        {
            var calls = 0;
            for (var attempt = 0; ; attempt++)
            {
                var (session, opened) = await SessionAsync(caller, vehicleId, vin, domain, partner, fresh: attempt > 0, ct);
                calls += opened;
                if (session is null)
                {
                    throw new KeyNotPairedException(calls);
                }
                var counter = await NextCounterAsync(vehicleId, domain, session.Epoch, ct);
                if (counter is null)
                {
                    continue;   // another replica opened a new session meanwhile: sign with that one
                }
                var command = new RoutableMessage
                {
                    ToDestination = new Destination { Domain = domain },
                    FromDestination = new Destination { RoutingAddress = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16)) },
                    ProtobufMessageAsBytes = payload,
                    Uuid = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16)),
                    Flags = CommandSigner.EncryptResponseFlag,
                };
                CommandSigner.AuthorizeWithHmac(command, session.Session, counter.Value, ExpiresAt(session));
                calls++;
                var answer = RoutableMessage.Parser.ParseFrom(await fleet.SendSignedCommandAsync(caller, vin, command.ToByteArray(), ct));
                var fault = answer.SignedMessageStatus?.SignedMessageFault ?? MessageFault_E.RrorNone;
                if (fault is MessageFault_E.RrorUnknownKeyId or MessageFault_E.RrorInactiveKey)
                {
                    await ForgetAsync(vehicleId, domain, ct);
                    throw new KeyNotPairedException(calls);
                }
                if (StaleSession.Contains(fault))
                {
                    logger.LogInformation("Car {Vin} refused the {Domain} session ({Fault}); {Next}", vin, domain, fault, attempt == 0 ? "opening a new one" : "giving up");
                    await ForgetAsync(vehicleId, domain, ct);
                    if (attempt == 0)
                    {
                        continue;
                    }
                    return new ChannelResult(CommandOutcome.Failed, $"the car refused the session twice ({FaultName(fault)})", calls);
                }
                if (fault != MessageFault_E.RrorNone)
                {
                    return new ChannelResult(fault == MessageFault_E.RrorBusy ? CommandOutcome.Failed : CommandOutcome.Rejected, FaultName(fault), calls);
                }
                var (plaintext, _) = CommandSigner.DecryptResponse(answer, session.Session, CommandSigner.RequestHash(command));
                var (outcome, reason) = domain == Domain.VehicleSecurity ? ReadSecurityAnswer(plaintext) : ReadInfotainmentAnswer(plaintext);
                return new ChannelResult(outcome, reason, calls);
            }
        }
    }

    /// <summary>A stored session this node can sign with, or a new one from a handshake; null when the car does not know the key.</summary>
    private async Task<(Stored? Session, int Calls)> SessionAsync(FleetAccount caller, Guid vehicleId, string vin, Domain domain, PartnerKey partner, bool fresh, CancellationToken ct)
    {
        var partnerKeyId = partner.Id;
        var row = await db.CommandSessions.AsNoTracking().SingleOrDefaultAsync(s => s.VehicleId == vehicleId && s.Domain == (int)domain, ct);
        if (row is not null && row.PartnerKeyId == partnerKeyId && !fresh)
        {
            var known = keys.Get(partnerKeyId, row.CarPublicKey) ?? keys.Add(partnerKeyId, SessionKey.Derive(await partner.LoadAsync(ct), row.CarPublicKey));
            return (new Stored(new VehicleSession(domain, vin, known, row.Epoch, (uint)row.Counter, (uint)row.ClockTime), row.Epoch, row.ClockTime, row.ClockAt), 0);
        }
        var partnerKey = await partner.LoadAsync(ct);
        var uuid = RandomNumberGenerator.GetBytes(16);
        var publicKey = P256.Encode(partnerKey.ExportParameters(false).Q);
        var request = VehicleHandshake.Request(domain, publicKey, RandomNumberGenerator.GetBytes(16), uuid);
        var answer = RoutableMessage.Parser.ParseFrom(await fleet.SendSignedCommandAsync(caller, vin, request.ToByteArray(), ct));
        if (answer.SignedMessageStatus?.SignedMessageFault is MessageFault_E.RrorUnknownKeyId or MessageFault_E.RrorInactiveKey)
        {
            return (null, 1);
        }
        if (answer.PayloadCase == RoutableMessage.PayloadOneofCase.SessionInfo && answer.SignatureData is null && NotOnWhitelist(answer))
        {
            // Some cars' VCSEC say "not paired" without a tag; believing it unauthenticated only ever stops a command.
            return (null, 1);
        }
        VehicleSession session;
        try
        {
            session = VehicleHandshake.Accept(partnerKey, vin, domain, uuid, answer);
            keys.Add(partnerKeyId, session.Key);
        }
        catch (CommandProtocolException e) when (e.Failure == CommandProtocolFailure.KeyNotPaired)
        {
            return (null, 1);
        }
        var now = time.GetUtcNow();
        // Upsert: a handshake on another replica at the same moment is as good as this one; the last one wins and a
        // command signed with the loser's epoch gets a stale-session answer and tries once more.
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO command_sessions (vehicle_id, domain, partner_key_id, car_public_key, epoch, counter, clock_time, clock_at)
            VALUES ({vehicleId}, {(int)domain}, {partnerKeyId}, {session.Key.CarPublicKey}, {session.Epoch}, {(long)session.Counter}, {(long)session.ClockTime}, {now})
            ON CONFLICT (vehicle_id, domain) DO UPDATE SET partner_key_id = EXCLUDED.partner_key_id, car_public_key = EXCLUDED.car_public_key,
                epoch = EXCLUDED.epoch, counter = EXCLUDED.counter, clock_time = EXCLUDED.clock_time, clock_at = EXCLUDED.clock_at
            """, ct);
        return (new Stored(session, session.Epoch, session.ClockTime, now), 1);
    }

    /// <summary>One above the last counter of this epoch, taken atomically across replicas; null when the epoch is gone.</summary>
    private async Task<uint?> NextCounterAsync(Guid vehicleId, Domain domain, byte[] epoch, CancellationToken ct)
    {
        var next = await db.Database.SqlQuery<long>($"""
            UPDATE command_sessions SET counter = counter + 1
            WHERE vehicle_id = {vehicleId} AND domain = {(int)domain} AND epoch = {epoch}
            RETURNING counter AS "Value"
            """).ToListAsync(ct);
        return next.Count == 1 ? (uint)next[0] : null;
    }

    private Task ForgetAsync(Guid vehicleId, Domain domain, CancellationToken ct) =>
        db.CommandSessions.Where(s => s.VehicleId == vehicleId && s.Domain == (int)domain).ExecuteDeleteAsync(ct);

    /// <summary>The car's clock now (its clock at the handshake plus the time since) plus the command's lifetime.</summary>
    private uint ExpiresAt(Stored session) =>
        (uint)(session.ClockTime + Math.Max(0, (long)(time.GetUtcNow() - session.ClockAt).TotalSeconds) + options.Value.CommandLifetimeSeconds);

    private static bool NotOnWhitelist(RoutableMessage answer)
    {
        try
        {
            return VehicleCommand.Messages.Signatures.SessionInfo.Parser.ParseFrom(answer.SessionInfo).Status == VehicleCommand.Messages.Signatures.Session_Info_Status.KeyNotOnWhitelist;
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }
    }

    private static (string Outcome, string? Reason) ReadInfotainmentAnswer(byte[] plaintext)
    {
        var status = Response.Parser.ParseFrom(plaintext).ActionStatus;
        return status is null || status.Result == VehicleCommand.Messages.CarServer.OperationStatus_E.OperationstatusOk
            ? (CommandOutcome.Ok, null)
            : (CommandOutcome.Rejected, Hosting.TextInput.Clean(status.ResultReason?.PlainText) is { Length: > 0 } why ? why : "refused by the car");
    }

    private static (string Outcome, string? Reason) ReadSecurityAnswer(byte[] plaintext)
    {
        var answer = FromVCSECMessage.Parser.ParseFrom(plaintext);
        return answer.SubMessageCase switch
        {
            FromVCSECMessage.SubMessageOneofCase.NominalError => (CommandOutcome.Rejected, answer.NominalError.GenericError.ToString()),
            FromVCSECMessage.SubMessageOneofCase.CommandStatus when answer.CommandStatus.OperationStatus == VehicleCommand.Messages.Vcsec.OperationStatus_E.OperationstatusWait
                => (CommandOutcome.Failed, "the car is busy; try again"),
            FromVCSECMessage.SubMessageOneofCase.CommandStatus when answer.CommandStatus.OperationStatus == VehicleCommand.Messages.Vcsec.OperationStatus_E.Rror
                => (CommandOutcome.Rejected, "refused by the car"),
            _ => (CommandOutcome.Ok, null),
        };
    }

    private static string FaultName(MessageFault_E fault) =>
        fault.ToString().Replace("Rror", "", StringComparison.Ordinal) is var n && n.Length > 0 ? System.Text.RegularExpressions.Regex.Replace(n, "(?<!^)([A-Z])", "_$1").ToLowerInvariant() : "fault";

    private sealed record Stored(VehicleSession Session, byte[] Epoch, long ClockTime, DateTimeOffset ClockAt);

    /// <summary>The current partner key's id; its private half is decrypted from the vault only when a key must be agreed.</summary>
    private sealed class PartnerKey(Guid id, Partner.PartnerKeys store) : IAsyncDisposable
    {
        private ECDsa? _key;
        public Guid Id { get; } = id;

        public async Task<ECDsa> LoadAsync(CancellationToken ct) =>
            _key ??= await store.LoadPrivateKeyAsync(ct) ?? throw new InvalidOperationException("The partner key's private half cannot be read.");

        public ValueTask DisposeAsync()
        {
            _key?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
