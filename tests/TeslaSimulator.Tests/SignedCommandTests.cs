using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using VehicleCommand.Crypto;
using VehicleCommand.Messages.CarServer;
using VehicleCommand.Messages.Signatures;
using VehicleCommand.Messages.UniversalMessage;
using VehicleCommand.Messages.Vcsec;
using static TeslaSimulator.Tests.SimulatorApp;
using Action = VehicleCommand.Messages.CarServer.Action;
using Domain = VehicleCommand.Messages.UniversalMessage.Domain;

namespace TeslaSimulator.Tests;

/// <summary>
/// The simulator as a car over POST /signed_command, driven by a small client built here from the VehicleCommand
/// library (not the broker's code), following protocol.md.
/// </summary>
public sealed class SignedCommandTests
{
    private const string PartnerDomain = "broker.example.com";
    private const string Car = AliceCharging;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A partner key registered for Domain and paired with Alice's charging car; Alice's Fleet client.</summary>
    private static async Task<(HttpClient Fleet, ECDsa Key)> SetUpAsync(SimulatorApp app, string scopes = "openid offline_access vehicle_device_data vehicle_cmds vehicle_charging_cmds", bool pair = true)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        app.Web[KeyUrl(PartnerDomain)] = key.ExportSubjectPublicKeyInfoPem();
        Assert.Equal(HttpStatusCode.OK, (await RegisterAsync(await app.PartnerAsync(ct: Ct), PartnerDomain, Ct)).StatusCode);
        if (pair) Assert.Equal(HttpStatusCode.OK, (await app.SimPostAsync($"/_sim/vehicles/{Car}/virtual-key", new { domain = PartnerDomain, paired = true }, Ct)).StatusCode);
        var tokens = await app.TokensAsync(Alice, scopes, Ct);
        return (app.Fleet((string)tokens["access_token"]!, Na), key);
    }

    private static byte[] Public(ECDsa key) => P256.Encode(key.ExportParameters(false).Q);

    private sealed record Session(Domain Domain, SessionKey Key, byte[] Epoch, uint Counter, uint Clock);

    private static async Task<HttpResponseMessage> SendAsync(HttpClient fleet, RoutableMessage message, string vin = Car) =>
        await fleet.PostAsync($"/api/1/vehicles/{vin}/signed_command", new StringContent(
            JsonSerializer.Serialize(new { routable_message = Convert.ToBase64String(message.ToByteArray()) }), Encoding.UTF8, "application/json"), Ct);

    private static async Task<RoutableMessage> AnswerAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return RoutableMessage.Parser.ParseFrom(Convert.FromBase64String((string)(await Json(response, Ct))["response"]!));
    }

    private static RoutableMessage HandshakeRequest(Domain domain, byte[] publicKey, byte[] uuid) => new()
    {
        ToDestination = new Destination { Domain = domain },
        FromDestination = new Destination { RoutingAddress = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16)) },
        SessionInfoRequest = new SessionInfoRequest { PublicKey = ByteString.CopyFrom(publicKey) },
        Uuid = ByteString.CopyFrom(uuid),
    };

    /// <summary>protocol.md "Handshake": the answer's tag must verify for this VIN, UUID and key.</summary>
    private static Session Accept(ECDsa key, Domain domain, byte[] uuid, RoutableMessage answer)
    {
        Assert.Equal(RoutableMessage.PayloadOneofCase.SessionInfo, answer.PayloadCase);
        var info = SessionInfo.Parser.ParseFrom(answer.SessionInfo);
        var k = SessionKey.Derive(key, info.PublicKey.Span);
        Assert.True(k.IsAuthenticSessionInfo(Car, uuid, answer.SessionInfo.Span, answer.SignatureData.SessionInfoTag.Tag.Span));
        return new Session(domain, k, info.Epoch.ToByteArray(), info.Counter, info.ClockTime);
    }

    private static async Task<Session> HandshakeAsync(HttpClient fleet, ECDsa key, Domain domain = Domain.Infotainment)
    {
        var uuid = RandomNumberGenerator.GetBytes(16);
        var answer = await AnswerAsync(await SendAsync(fleet, HandshakeRequest(domain, Public(key), uuid)));
        Assert.Equal(domain, answer.FromDestination.Domain);
        return Accept(key, domain, uuid, answer);
    }

    /// <summary>protocol.md "HMAC-SHA256 authentication", with FLAG_ENCRYPT_RESPONSE.</summary>
    private static RoutableMessage Sign(Session s, IMessage payload, uint counter, uint expiresAt, byte[]? epoch = null, bool breakTag = false, byte[]? signer = null)
    {
        const uint flags = 1u << (int)Flags.FlagEncryptResponse;
        var bytes = payload.ToByteArray();
        var metadata = CommandMetadata.ForCommand(SignatureType.HmacPersonalized, s.Domain, Car, epoch ?? s.Epoch, expiresAt, counter, flags);
        var tag = s.Key.CommandTag(metadata, bytes);
        if (breakTag) tag[0] ^= 1;
        return new RoutableMessage
        {
            ToDestination = new Destination { Domain = s.Domain },
            FromDestination = new Destination { RoutingAddress = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16)) },
            ProtobufMessageAsBytes = ByteString.CopyFrom(bytes),
            Uuid = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16)),
            Flags = flags,
            SignatureData = new SignatureData
            {
                SignerIdentity = new KeyIdentity { PublicKey = ByteString.CopyFrom(signer ?? s.Key.PartnerPublicKey) },
                HMACPersonalizedData = new HMAC_Personalized_Signature_Data
                {
                    Epoch = ByteString.CopyFrom(epoch ?? s.Epoch), Counter = counter, ExpiresAt = expiresAt, Tag = ByteString.CopyFrom(tag),
                },
            },
        };
    }

    /// <summary>protocol.md "Response decryption": request hash = type byte ‖ tag; response metadata as its table.</summary>
    private static byte[] Open(Session s, RoutableMessage request, RoutableMessage answer)
    {
        var tag = request.SignatureData.HMACPersonalizedData.Tag.ToByteArray();
        var hash = new byte[] { (byte)SignatureType.HmacPersonalized }.Concat(tag).ToArray();
        if (s.Domain == Domain.VehicleSecurity) hash = hash[..17];
        var data = answer.SignatureData.AESGCMResponseData;
        Assert.NotNull(data);
        var metadata = CommandMetadata.ForResponse(s.Domain, Car, data.Counter, answer.Flags, hash, answer.SignedMessageStatus?.SignedMessageFault ?? MessageFault_E.RrorNone);
        return s.Key.Decrypt(data.Nonce.Span, answer.ProtobufMessageAsBytes.Span, data.Tag.Span, metadata);
    }

    private static Action SetAmps(int amps) => new() { VehicleAction = new VehicleAction { SetChargingAmpsAction = new SetChargingAmpsAction { ChargingAmps = amps } } };

    private static void AssertFault(RoutableMessage answer, MessageFault_E fault, bool withSessionInfo)
    {
        Assert.Equal(fault, answer.SignedMessageStatus.SignedMessageFault);
        Assert.Equal(VehicleCommand.Messages.UniversalMessage.OperationStatus_E.Rror, answer.SignedMessageStatus.OperationStatus);
        Assert.Equal(withSessionInfo, answer.PayloadCase == RoutableMessage.PayloadOneofCase.SessionInfo);
        Assert.NotEqual(SignatureData.SigTypeOneofCase.AESGCMResponseData, answer.SignatureData?.SigTypeCase ?? SignatureData.SigTypeOneofCase.None);
    }

    private static async Task<JsonNode> ChargeStateAsync(HttpClient fleet) =>
        (await Json(await fleet.GetAsync($"/api/1/vehicles/{Car}/vehicle_data", Ct), Ct))["response"]!["charge_state"]!;

    [Fact]
    public async Task HandshakeTagVerifiesAndASignedSetAmpsChangesVehicleDataWithAnEncryptedOkAnswer()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var s = await HandshakeAsync(fleet, key);
        Assert.Equal(16, s.Epoch.Length);

        var request = Sign(s, SetAmps(16), s.Counter + 1, s.Clock + 10);
        var answer = await AnswerAsync(await SendAsync(fleet, request));
        Assert.Equal(request.Uuid, answer.RequestUuid);
        var response = Response.Parser.ParseFrom(Open(s, request, answer));
        Assert.Equal(VehicleCommand.Messages.CarServer.OperationStatus_E.OperationstatusOk, response.ActionStatus.Result);

        var charge = await ChargeStateAsync(fleet);
        Assert.Equal(16, (int)charge["charge_current_request"]!);
        Assert.Equal(48, (int)charge["charge_current_request_max"]!);
        Assert.Equal(16, (int)charge["charger_actual_current"]!); // 16 A × 240 V = 3.84 kW, under the 11 kW charger
        var log = await Json2(await app.Client().GetAsync($"/_sim/vehicles/{Car}/signed-commands", Ct));
        Assert.Equal("set_charging_amps", (string)log[0]!["name"]!);
        Assert.Equal(s.Counter + 1, (uint)log[0]!["counter"]!);
    }

    private static async Task<JsonArray> Json2(HttpResponseMessage r) => JsonNode.Parse(await r.Content.ReadAsStringAsync(Ct))!.AsArray();

    [Fact]
    public async Task ApplicationRefusalComesEncryptedWithItsPlainTextReason()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var s = await HandshakeAsync(fleet, key);
        var start = new Action { VehicleAction = new VehicleAction { ChargingStartStopAction = new ChargingStartStopAction { Start = new VehicleCommand.Messages.CarServer.Void() } } };
        var request = Sign(s, start, s.Counter + 1, s.Clock + 10);
        var response = Response.Parser.ParseFrom(Open(s, request, await AnswerAsync(await SendAsync(fleet, request))));
        Assert.Equal(VehicleCommand.Messages.CarServer.OperationStatus_E.Rror, response.ActionStatus.Result);
        Assert.Equal("is_charging", response.ActionStatus.ResultReason.PlainText);
    }

    [Fact]
    public async Task ReplayedCounterIsRefusedWithTaggedSessionInfoAndNotAppliedTwice()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var s = await HandshakeAsync(fleet, key);
        var request = Sign(s, SetAmps(20), s.Counter + 1, s.Clock + 10);
        await AnswerAsync(await SendAsync(fleet, request));
        var replay = await AnswerAsync(await SendAsync(fleet, request));
        AssertFault(replay, MessageFault_E.RrorInvalidTokenOrCounter, withSessionInfo: true);
        var resync = Accept(key, Domain.Infotainment, request.Uuid.ToByteArray(), replay);
        Assert.Equal(s.Counter + 1, resync.Counter);
        Assert.Single(await Json2(await app.Client().GetAsync($"/_sim/vehicles/{Car}/signed-commands", Ct)));
    }

    [Fact]
    public async Task ExpiredCommandIsRefusedAsTimeExpired()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var s = await HandshakeAsync(fleet, key);
        app.Time.Advance(TimeSpan.FromSeconds(30));
        var answer = await AnswerAsync(await SendAsync(fleet, Sign(s, SetAmps(20), s.Counter + 1, s.Clock + 10)));
        AssertFault(answer, MessageFault_E.RrorTimeExpired, withSessionInfo: true);
    }

    [Fact]
    public async Task CounterlessCommandWithALongLifetimeIsRefusedAsTimeToLiveTooLong()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var s = await HandshakeAsync(fleet, key);
        var answer = await AnswerAsync(await SendAsync(fleet, Sign(s, SetAmps(20), 0, s.Clock + 31)));
        AssertFault(answer, MessageFault_E.RrorTimeToLiveTooLong, withSessionInfo: true);
    }

    [Fact]
    public async Task WrongEpochAfterARebootIsRefusedWithResyncInfoThatWorks()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var s = await HandshakeAsync(fleet, key);
        Assert.Equal(HttpStatusCode.OK, (await app.SimPostAsync($"/_sim/vehicles/{Car}/domains/infotainment/reboot", null, Ct)).StatusCode);
        var request = Sign(s, SetAmps(20), s.Counter + 1, s.Clock + 10);
        var answer = await AnswerAsync(await SendAsync(fleet, request));
        AssertFault(answer, MessageFault_E.RrorIncorrectEpoch, withSessionInfo: true);
        var fresh = Accept(key, Domain.Infotainment, request.Uuid.ToByteArray(), answer);
        Assert.NotEqual(s.Epoch, fresh.Epoch);
        var retry = Sign(fresh, SetAmps(20), fresh.Counter + 1, fresh.Clock + 10);
        Assert.Null((await AnswerAsync(await SendAsync(fleet, retry))).SignedMessageStatus);
    }

    [Fact]
    public async Task UnpairedKeyGetsKeyNotOnWhitelistAtHandshakeAndUnknownKeyIdForCommands()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app, pair: false);
        var uuid = RandomNumberGenerator.GetBytes(16);
        var answer = await AnswerAsync(await SendAsync(fleet, HandshakeRequest(Domain.Infotainment, Public(key), uuid)));
        var s = Accept(key, Domain.Infotainment, uuid, answer); // tagged, so the status can be believed
        Assert.Equal(Session_Info_Status.KeyNotOnWhitelist, SessionInfo.Parser.ParseFrom(answer.SessionInfo).Status);
        var command = await AnswerAsync(await SendAsync(fleet, Sign(s, SetAmps(20), 1, s.Clock + 10)));
        AssertFault(command, MessageFault_E.RrorUnknownKeyId, withSessionInfo: false);
    }

    [Fact]
    public async Task BadTagIsRefusedAsInvalidSignature()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var s = await HandshakeAsync(fleet, key);
        var answer = await AnswerAsync(await SendAsync(fleet, Sign(s, SetAmps(20), s.Counter + 1, s.Clock + 10, breakTag: true)));
        AssertFault(answer, MessageFault_E.RrorInvalidSignature, withSessionInfo: true);
    }

    [Fact]
    public async Task VcsecLockAppliesAndItsAnswerOpensWithA17ByteRequestHash()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var s = await HandshakeAsync(fleet, key, Domain.VehicleSecurity);
        var request = Sign(s, new UnsignedMessage { RKEAction = RKEAction_E.RkeActionUnlock }, s.Counter + 1, s.Clock + 10);
        var answer = await AnswerAsync(await SendAsync(fleet, request));
        Assert.True(answer.RequestUuid.IsEmpty); // protocol.md: VCSEC typically leaves request_uuid empty
        Assert.Null(FromVCSECMessage.Parser.ParseFrom(Open(s, request, answer)).NominalError);
        var data = await Json(await fleet.GetAsync($"/api/1/vehicles/{Car}/vehicle_data", Ct), Ct);
        Assert.False((bool)data["response"]!["vehicle_state"]!["locked"]!);
    }

    [Fact]
    public async Task ScopesAreReadFromThePlaintextChargingCommandsTakeChargingCmdsTheRestVehicleCmds()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app, "openid offline_access vehicle_device_data vehicle_charging_cmds");
        var s = await HandshakeAsync(fleet, key);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(fleet, Sign(s, SetAmps(20), s.Counter + 1, s.Clock + 10))).StatusCode);
        var honk = new Action { VehicleAction = new VehicleAction { VehicleControlHonkHornAction = new VehicleControlHonkHornAction() } };
        var denied = await SendAsync(fleet, Sign(s, honk, s.Counter + 2, s.Clock + 10));
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Equal("Unauthorized missing scopes", (string)(await Json(denied, Ct))["error"]!);
    }

    [Fact]
    public async Task RateLimitIsSharedWithRestCommandsAndEverySignedCallIsBilledAsACommand()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        await app.Client().DeleteAsync("/_sim/calls", Ct);
        var s = await HandshakeAsync(fleet, key);
        for (var i = 0; i < 29; i++) Assert.Equal(HttpStatusCode.OK, (await fleet.PostAsync($"/api/1/vehicles/{Car}/command/honk_horn", null, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SendAsync(fleet, Sign(s, SetAmps(20), s.Counter + 1, s.Clock + 10))).StatusCode);
        var calls = await Json(await app.Client().GetAsync($"/_sim/calls?account={Alice}", Ct), Ct);
        var command = calls["totals"]!["byCategory"]!["command"]!;
        Assert.Equal(31, (long)command["calls"]!);
        Assert.Equal(0.031m, (decimal)command["cost"]!);
    }

    [Fact]
    public async Task AsleepCarAnswers408AndACarWithoutTheProtocolAnswers422()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var handshake = HandshakeRequest(Domain.Infotainment, Public(key), RandomNumberGenerator.GetBytes(16));
        await app.SimPostAsync($"/_sim/vehicles/{Car}/state", new { state = "asleep" }, Ct);
        var asleep = await SendAsync(fleet, handshake);
        Assert.Equal(HttpStatusCode.RequestTimeout, asleep.StatusCode);
        Assert.Equal("vehicle unavailable: vehicle is offline or asleep", (string)(await Json(asleep, Ct))["error"]!);

        await app.SimPostAsync($"/_sim/vehicles/{Car}/state", new { state = "online" }, Ct);
        await app.Client().PutAsync($"/_sim/vehicles/{Car}/signed-commands", new StringContent("{\"supported\":false}", Encoding.UTF8, "application/json"), Ct);
        var old = await SendAsync(fleet, handshake);
        Assert.Equal((HttpStatusCode)422, old.StatusCode);
        Assert.Equal("vehicle does not support signed commands", (string)(await Json(old, Ct))["error"]!);
    }

    [Fact]
    public async Task LostAnswerFaultAppliesTheCommandButAnswers504()
    {
        await using var app = new SimulatorApp();
        var (fleet, key) = await SetUpAsync(app);
        var s = await HandshakeAsync(fleet, key);
        await app.SimPostAsync($"/_sim/vehicles/{Car}/signed-commands/lose-answers", new { count = 1 }, Ct);
        Assert.Equal(HttpStatusCode.GatewayTimeout, (await SendAsync(fleet, Sign(s, SetAmps(12), s.Counter + 1, s.Clock + 10))).StatusCode);
        Assert.Equal(12, (int)(await ChargeStateAsync(fleet))["charge_current_request"]!);
    }

    [Fact]
    public async Task MalformedBodyIs400()
    {
        await using var app = new SimulatorApp();
        var (fleet, _) = await SetUpAsync(app);
        var r = await fleet.PostAsync($"/api/1/vehicles/{Car}/signed_command", new StringContent("{\"routable_message\":\"%%%\"}", Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
    }

    [Fact]
    public async Task RestSetChargingAmpsAppliesAndRefusesAmpsAboveTheMaximum()
    {
        await using var app = new SimulatorApp();
        var (fleet, _) = await SetUpAsync(app);
        var ok = await fleet.PostAsync($"/api/1/vehicles/{Car}/command/set_charging_amps", new StringContent("{\"charging_amps\":10}", Encoding.UTF8, "application/json"), Ct);
        Assert.True((bool)(await Json(ok, Ct))["response"]!["result"]!);
        Assert.Equal(10, (int)(await ChargeStateAsync(fleet))["charge_current_request"]!);
        var high = await fleet.PostAsync($"/api/1/vehicles/{Car}/command/set_charging_amps", new StringContent("{\"charging_amps\":49}", Encoding.UTF8, "application/json"), Ct);
        Assert.False((bool)(await Json(high, Ct))["response"]!["result"]!);
    }
}
