using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Broker.Commands.Protocol;
using Google.Protobuf;
using VehicleCommand.Crypto;
using VehicleCommand.Messages.CarServer;
using VehicleCommand.Messages.Signatures;
using VehicleCommand.Messages.UniversalMessage;
using CarAction = VehicleCommand.Messages.CarServer.Action;
using OperationStatus_E = VehicleCommand.Messages.CarServer.OperationStatus_E;

namespace Commands;

/// <summary>
/// The protocol's cost on one thread, no I/O: the broker's side (CommandSigner, VehicleHandshake, SessionKey) against
/// answers built the car's way here with a second P-256 key pair (SessionKey.SessionInfoTag for the handshake,
/// SessionKey.Encrypt under CommandMetadata.ForResponse for answers), as src/TeslaSimulator/Car/VehicleCommandCar.cs does.
/// Each operation runs for a fixed time after a warm-up, <c>rounds</c> times; the table gives the median round's rate
/// (wall clock) and the process CPU time per operation, which a busy machine disturbs less than the wall clock.
/// </summary>
internal sealed class Micro(double seconds, int rounds)
{
    private const string Vin = "5YJ3E1EA7PF381204";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly ECDsa _partner = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _car = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly List<Row> _rows = [];

    public sealed record Row(string What, double OpsPerSecond, double WallMicros, double CpuMicros, double SpreadPercent);

    public IReadOnlyList<Row> Rows => _rows;

    public void Run()
    {
        var partnerPublic = P256.Encode(_partner.ExportParameters(false).Q);
        var carPublic = P256.Encode(_car.ExportParameters(false).Q);
        var carKey = SessionKey.Derive(_car, partnerPublic);   // the car's side of K
        var epoch = RandomNumberGenerator.GetBytes(VehicleHandshake.EpochLength);

        // The handshake: the broker's request, the car's tagged session info.
        var uuid = RandomNumberGenerator.GetBytes(16);
        var info = new SessionInfo
        {
            Counter = 7, PublicKey = ByteString.CopyFrom(carPublic), Epoch = ByteString.CopyFrom(epoch), ClockTime = 1234, Status = Session_Info_Status.Ok,
        }.ToByteArray();
        var handshakeAnswer = new RoutableMessage
        {
            FromDestination = new Destination { Domain = Domain.Infotainment },
            SessionInfo = ByteString.CopyFrom(info),
            SignatureData = new SignatureData { SessionInfoTag = new HMAC_Signature_Data { Tag = ByteString.CopyFrom(carKey.SessionInfoTag(Vin, uuid, info)) } },
        };
        var handshakeBytes = handshakeAnswer.ToByteArray();
        var session = VehicleHandshake.Accept(_partner, Vin, Domain.Infotainment, uuid, handshakeAnswer);
        if (!session.Key.SharedKey.SequenceEqual(carKey.SharedKey))
        {
            throw new InvalidOperationException("The broker and the car did not agree on K.");
        }

        // A command as SignedChannel builds it, and the car's encrypted answer to it.
        var payload = new CarAction { VehicleAction = new VehicleAction { SetChargingAmpsAction = new SetChargingAmpsAction { ChargingAmps = 16 } } }.ToByteString();
        var counter = session.Counter;
        var expiresAt = session.ClockTime + 15;
        var command = NewCommand(payload);
        CommandSigner.AuthorizeWithHmac(command, session, ++counter, expiresAt);
        var requestHash = CommandSigner.RequestHash(command);
        var answerBytes = CarAnswer(command, carKey, requestHash).ToByteArray();
        var answer = RoutableMessage.Parser.ParseFrom(answerBytes);
        var (opened, _) = CommandSigner.DecryptResponse(answer, session, requestHash);
        if (Response.Parser.ParseFrom(opened).ActionStatus.Result != OperationStatus_E.OperationstatusOk)
        {
            throw new InvalidOperationException("The answer did not open to OK.");
        }

        var reused = NewCommand(payload);
        Measure("sign: AuthorizeWithHmac (set_charging_amps, message reused)", () => CommandSigner.AuthorizeWithHmac(reused, session, ++counter, expiresAt));
        Measure("sign as SignedChannel does: new message, AuthorizeWithHmac, serialise", () =>
        {
            var c = NewCommand(payload);
            CommandSigner.AuthorizeWithHmac(c, session, ++counter, expiresAt);
            _ = c.ToByteArray();
        });
        Measure("open: DecryptResponse (AES-GCM answer)", () => CommandSigner.DecryptResponse(answer, session, requestHash));
        Measure("open as SignedChannel does: parse, RequestHash, DecryptResponse, read Response", () =>
        {
            var a = RoutableMessage.Parser.ParseFrom(answerBytes);
            var (plain, _) = CommandSigner.DecryptResponse(a, session, CommandSigner.RequestHash(command));
            _ = Response.Parser.ParseFrom(plain).ActionStatus;
        });
        Measure("handshake: P256.IsOnCurve (the car key check inside Derive)", () => P256.IsOnCurve(carPublic));
        Measure("handshake: SessionKey.Derive (curve check, ECDH, SHA-1)", () => SessionKey.Derive(_partner, carPublic));
        using (var ours = ECDiffieHellman.Create(_partner.ExportParameters(true)))
        using (var theirs = ECDiffieHellman.Create(_car.ExportParameters(false)))
        {
            Measure("handshake, for comparison: ECDH alone, keys already imported", () => ours.DeriveRawSecretAgreement(theirs.PublicKey));
        }
        Measure("handshake: Request (new UUID, serialise)", () =>
            VehicleHandshake.Request(Domain.Infotainment, partnerPublic, RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(16)).ToByteArray());
        Measure("handshake: parse + VehicleHandshake.Accept (Derive, tag check)", () =>
            VehicleHandshake.Accept(_partner, Vin, Domain.Infotainment, uuid, RoutableMessage.Parser.ParseFrom(handshakeBytes)));

        // Whole sessions, measured as such: one handshake (request, accept) then n commands (sign, open), per command.
        foreach (var n in new[] { 1, 10, 100 })
        {
            Measure($"session of {n}: handshake + {n} × (sign + open), per command", () =>
            {
                _ = VehicleHandshake.Request(Domain.Infotainment, partnerPublic, RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(16)).ToByteArray();
                var s = VehicleHandshake.Accept(_partner, Vin, Domain.Infotainment, uuid, RoutableMessage.Parser.ParseFrom(handshakeBytes));
                for (var i = 0; i < n; i++)
                {
                    var c = NewCommand(payload);
                    CommandSigner.AuthorizeWithHmac(c, s, ++counter, expiresAt);
                    _ = c.ToByteArray();
                    var a = RoutableMessage.Parser.ParseFrom(answerBytes);
                    CommandSigner.DecryptResponse(a, s, requestHash);
                }
            }, perCall: n);
        }

        // What SignedChannel.SendAsync does today for a command on a stored session: it derives K again from the stored car
        // key (SessionKey.Derive, an ECDH) for every command, then signs and opens.
        Measure("stored session as SignedChannel does it: Derive + sign + open, per command", () =>
        {
            var s = new VehicleSession(Domain.Infotainment, Vin, SessionKey.Derive(_partner, carPublic), epoch, counter, 1234);
            var c = NewCommand(payload);
            CommandSigner.AuthorizeWithHmac(c, s, ++counter, expiresAt);
            _ = c.ToByteArray();
            CommandSigner.DecryptResponse(RoutableMessage.Parser.ParseFrom(answerBytes), s, requestHash);
        });
    }

    private static RoutableMessage NewCommand(ByteString payload) => new()
    {
        ToDestination = new Destination { Domain = Domain.Infotainment },
        FromDestination = new Destination { RoutingAddress = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16)) },
        ProtobufMessageAsBytes = payload,
        Uuid = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16)),
        Flags = CommandSigner.EncryptResponseFlag,
    };

    /// <summary>The car's answer (VehicleCommandCar.Reply + Encrypt): OK, AES-GCM under K, response metadata with the request hash.</summary>
    private static RoutableMessage CarAnswer(RoutableMessage request, SessionKey carKey, byte[] requestHash)
    {
        var plaintext = new Response { ActionStatus = new ActionStatus { Result = OperationStatus_E.OperationstatusOk } }.ToByteArray();
        var answer = new RoutableMessage
        {
            ToDestination = request.FromDestination.Clone(),
            FromDestination = new Destination { Domain = Domain.Infotainment },
            RequestUuid = request.Uuid,
        };
        const uint responseCounter = 1;
        var nonce = RandomNumberGenerator.GetBytes(SessionKey.NonceLength);
        var metadata = CommandMetadata.ForResponse(Domain.Infotainment, Vin, responseCounter, answer.Flags, requestHash, MessageFault_E.RrorNone);
        var (ciphertext, tag) = carKey.Encrypt(nonce, plaintext, metadata);
        answer.ProtobufMessageAsBytes = ByteString.CopyFrom(ciphertext);
        answer.SignatureData = new SignatureData
        {
            AESGCMResponseData = new AES_GCM_Response_Signature_Data { Nonce = ByteString.CopyFrom(nonce), Counter = responseCounter, Tag = ByteString.CopyFrom(tag) },
        };
        return answer;
    }

    /// <summary>Warm-up, then <c>rounds</c> rounds of <c>seconds</c> each; keeps the median round (by rate).</summary>
    private void Measure(string what, System.Action op, int perCall = 1)
    {
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < Math.Min(0.5, seconds / 2))
        {
            op();
        }
        var results = new List<(double Rate, double Wall, double Cpu)>();
        for (var r = 0; r < rounds; r++)
        {
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            long calls = 0;
            while (watch.Elapsed.TotalSeconds < seconds)
            {
                for (var i = 0; i < 16; i++)
                {
                    op();
                }
                calls += 16;
            }
            watch.Stop();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
            var ops = calls * perCall;
            results.Add((ops / watch.Elapsed.TotalSeconds, watch.Elapsed.TotalMicroseconds / ops, cpu.TotalMicroseconds / ops));
        }
        results.Sort((a, b) => a.Rate.CompareTo(b.Rate));
        var median = results[results.Count / 2];
        var spread = (results[^1].Rate - results[0].Rate) / median.Rate * 100;
        _rows.Add(new Row(what, median.Rate, median.Wall, median.Cpu, spread));
        Console.Error.WriteLine(string.Create(Inv, $"  {what}: {median.Rate:N0}/s"));
    }

    public string Table()
    {
        var lines = new List<string>
        {
            "| operation (one thread) | per second (wall) | µs each (wall) | µs each (process CPU) | spread of rounds |",
            "|---|---|---|---|---|",
        };
        lines.AddRange(_rows.Select(r => string.Create(Inv,
            $"| {r.What} | {r.OpsPerSecond:N0} | {r.WallMicros:N1} | {r.CpuMicros:N1} | {r.SpreadPercent:N0} % |")));
        return string.Join('\n', lines);
    }
}
