using Google.Protobuf;
using System.Security.Cryptography;
using TeslaSimulator.State;
using VehicleCommand.Crypto;
using VehicleCommand.Messages.CarServer;
using VehicleCommand.Messages.Signatures;
using VehicleCommand.Messages.UniversalMessage;
using VehicleCommand.Messages.Vcsec;
using CarOperationStatus = VehicleCommand.Messages.CarServer.OperationStatus_E;
using CarAction = VehicleCommand.Messages.CarServer.Action;
using OperationStatus_E = VehicleCommand.Messages.UniversalMessage.OperationStatus_E;

namespace TeslaSimulator.Car;

/// <summary>One command the car applied (or refused at the application layer), for tests: GET /_sim/vehicles/{vin}/signed-commands.</summary>
internal sealed record AppliedCommand(DateTimeOffset At, string Domain, string Name, uint Counter, string Result, string? Reason);

/// <summary>
/// A car's side of the Vehicle Command Protocol, written from teslamotors/vehicle-command pkg/protocol/protocol.md and
/// the verifier in internal/authentication (verifier.go, peer.go, window.go): it answers handshakes with tagged session
/// info, checks signed commands in the verifier's order, applies them to <see cref="SimVehicle"/>, and encrypts the
/// answer when asked. Independent of the broker's client code, so each checks the other. Guarded by the state gate.
/// </summary>
internal sealed class VehicleCommandCar(DateTimeOffset now)
{
    private const int VcsecRequestHashLength = 17;

    public CarDomain Vcsec { get; } = new(Domain.VehicleSecurity, now);
    public CarDomain Infotainment { get; } = new(Domain.Infotainment, now);

    /// <summary>False for a car that predates the protocol (pre-2021 Model S/X): the Fleet API answers 422.</summary>
    public bool SupportsSignedCommands { get; set; } = true;

    /// <summary>Commands still to be applied with their answer lost (a test fault); see <see cref="LostAnswer"/>.</summary>
    public LostAnswer? LoseAnswers { get; set; }

    public List<AppliedCommand> Log { get; } = [];

    public CarDomain? DomainOf(Domain domain) => domain switch
    {
        Domain.VehicleSecurity => Vcsec,
        Domain.Infotainment => Infotainment,
        _ => null,
    };

    /// <summary>What <see cref="Handle"/> did: the answer, and whether a command reached the application layer.</summary>
    public readonly record struct Outcome(RoutableMessage Answer, bool Applied);

    /// <summary>
    /// Handles one message the Fleet API delivered. <paramref name="paired"/> are the 65-byte keys on the car's
    /// whitelist (SimVehicle.VirtualKeys).
    /// </summary>
    public Outcome Handle(RoutableMessage request, SimVehicle vehicle, IReadOnlyCollection<byte[]> paired, DateTimeOffset at)
    {
        var to = request.ToDestination is { SubDestinationCase: Destination.SubDestinationOneofCase.Domain } d ? d.Domain : Domain.Broadcast;
        if (DomainOf(to) is not { } domain)
        {
            // verifier.go verifySessionInfo / peer.go extractMetadata: errCodeInvalidDomain. universal_message.proto:
            // INVALID_DOMAINS "Command was malformed or addressed to an unrecognized vehicle system".
            return new(Fault(request, to, MessageFault_E.RrorInvalidDomains), false);
        }

        if (request.PayloadCase == RoutableMessage.PayloadOneofCase.SessionInfoRequest)
            return new(Handshake(request, domain, vehicle.Vin, paired, at), false);

        var sig = request.SignatureData;
        var signer = sig?.SignerIdentity is { IdentityTypeCase: KeyIdentity.IdentityTypeOneofCase.PublicKey } id ? id.PublicKey.ToByteArray() : null;
        if (sig is null || signer is null || sig.SigTypeCase is not (SignatureData.SigTypeOneofCase.HMACPersonalizedData or SignatureData.SigTypeOneofCase.AESGCMPersonalizedData))
        {
            // verifier.go Verify: "signature data missing" / "unrecognized authentication method" are errCodeBadParameter.
            return new(Fault(request, domain.Domain, MessageFault_E.RrorBadParameter), false);
        }
        // A key the car does not hold: UNKNOWN_KEY_ID, "Make sure your key is paired with the vehicle"
        // (universal_message.proto). The car has no session with that key, so the fault is plain, without session info.
        if (!paired.Any(k => k.AsSpan().SequenceEqual(signer)) || !P256.IsOnCurve(signer))
            return new(Fault(request, domain.Domain, MessageFault_E.RrorUnknownKeyId), false);

        var key = SessionKey.Derive(domain.Key, signer);
        var (verified, fault) = Verify(request, domain, key, signer, vehicle.Vin, at);
        if (fault is { } f) return new(Fault(request, domain.Domain, f, (domain, key, vehicle.Vin, at)), false);

        var (payload, name, counter) = verified!.Value;
        var answerPayload = domain.Domain == Domain.Infotainment
            ? ApplyInfotainment(payload, vehicle, at, name, counter)
            : ApplyVcsec(payload, vehicle, at, counter);
        if (answerPayload is null)
            return new(Fault(request, domain.Domain, MessageFault_E.RrorDecoding), false); // could not parse: "Indicates client error"

        var answer = Reply(request, domain.Domain);
        answer.ProtobufMessageAsBytes = ByteString.CopyFrom(answerPayload);
        if ((request.Flags & (1u << (int)Flags.FlagEncryptResponse)) != 0) Encrypt(answer, request, domain, key, vehicle.Vin);
        return new(answer, true);
    }

    /// <summary>
    /// protocol.md "Handshake": session info (counter, the domain's public key, epoch, clock) tagged with
    /// HMAC-SHA256(HMAC-SHA256(K, "session info"), metadata(HMAC, VIN, challenge = request UUID) ‖ session info).
    /// A key not on the whitelist gets the same answer with status KEY_NOT_ON_WHITELIST (signatures.proto
    /// Session_Info_Status; the Go client reads it as ErrKeyNotPaired in pkg/protocol/error.go GetError). The car can
    /// still tag it: ECDH needs only the requester's public key. One secondary capture (a BLE client's notes) shows
    /// VCSEC answering a bare <c>session_info = 28 01</c> (status only, untagged); no primary source settles which.
    /// </summary>
    private RoutableMessage Handshake(RoutableMessage request, CarDomain domain, string vin, IReadOnlyCollection<byte[]> paired, DateTimeOffset at)
    {
        var requester = request.SessionInfoRequest.PublicKey.ToByteArray();
        if (!P256.IsOnCurve(requester)) return Fault(request, domain.Domain, MessageFault_E.RrorBadParameter); // crypto.go ErrInvalidPublicKey is errCodeBadParameter
        var known = paired.Any(k => k.AsSpan().SequenceEqual(requester));
        var key = SessionKey.Derive(domain.Key, requester);
        var answer = Reply(request, domain.Domain);
        SetSessionInfo(answer, request, domain, key, vin, at, known ? Session_Info_Status.Ok : Session_Info_Status.KeyNotOnWhitelist, requester);
        return answer;
    }

    private static void SetSessionInfo(RoutableMessage answer, RoutableMessage request, CarDomain domain, SessionKey key, string vin,
        DateTimeOffset at, Session_Info_Status status, byte[] signer)
    {
        var info = new SessionInfo
        {
            Counter = domain.HighestCounter(signer),
            PublicKey = ByteString.CopyFrom(domain.PublicKey),
            Epoch = ByteString.CopyFrom(domain.Epoch),
            ClockTime = domain.Clock(at),
            Status = status,
        }.ToByteArray();
        answer.SessionInfo = ByteString.CopyFrom(info);
        answer.SignatureData = new SignatureData
        {
            SessionInfoTag = new HMAC_Signature_Data { Tag = ByteString.CopyFrom(key.SessionInfoTag(vin, request.Uuid.Span, info)) },
        };
    }

    /// <summary>
    /// The verifier's checks, in verifier.go's order (verifySessionInfo, then the tag, then the counter window):
    /// epoch → expiry → expiry beyond the epoch → time to live of a counter-less or out-of-order message → tag →
    /// counter. The metadata is rebuilt with the car's own epoch (peer.go extractMetadata), so a message without an
    /// epoch field still binds to it.
    /// </summary>
    private static ((byte[] Payload, string Name, uint Counter)?, MessageFault_E?) Verify(RoutableMessage request, CarDomain domain, SessionKey key,
        byte[] signer, string vin, DateTimeOffset at)
    {
        var sig = request.SignatureData;
        var hmac = sig.SigTypeCase == SignatureData.SigTypeOneofCase.HMACPersonalizedData;
        var (epoch, counter, expiresAt) = hmac
            ? (sig.HMACPersonalizedData.Epoch, sig.HMACPersonalizedData.Counter, sig.HMACPersonalizedData.ExpiresAt)
            : (sig.AESGCMPersonalizedData.Epoch, sig.AESGCMPersonalizedData.Counter, sig.AESGCMPersonalizedData.ExpiresAt);
        var clock = domain.Clock(at);

        if (!epoch.IsEmpty && !epoch.Span.SequenceEqual(domain.Epoch)) return (null, MessageFault_E.RrorIncorrectEpoch);
        if (expiresAt != 0 && expiresAt < clock) return (null, MessageFault_E.RrorTimeExpired);
        if (expiresAt > CarDomain.EpochLengthSeconds) return (null, MessageFault_E.RrorBadParameter);
        if ((counter == 0 || counter < domain.HighestCounter(signer)) && (expiresAt == 0 || expiresAt - clock > CarDomain.MaxSecondsWithoutCounter))
            return (null, MessageFault_E.RrorTimeToLiveTooLong);

        var type = hmac ? SignatureType.HmacPersonalized : SignatureType.AesGcmPersonalized;
        var metadata = CommandMetadata.ForCommand(type, domain.Domain, vin, domain.Epoch, expiresAt, counter, request.Flags);
        byte[] payload;
        if (hmac)
        {
            payload = request.ProtobufMessageAsBytes.ToByteArray();
            var expected = key.CommandTag(metadata, payload);
            if (!CryptographicOperations.FixedTimeEquals(expected, sig.HMACPersonalizedData.Tag.Span)) return (null, MessageFault_E.RrorInvalidSignature);
        }
        else
        {
            var gcm = sig.AESGCMPersonalizedData;
            // universal_message.proto IV_INCORRECT_LENGTH: "AES-GCM must use 12-byte IVs".
            if (gcm.Nonce.Length != SessionKey.NonceLength) return (null, MessageFault_E.RrorIvIncorrectLength);
            if (gcm.Tag.Length != SessionKey.TagLength) return (null, MessageFault_E.RrorInvalidSignature);
            try { payload = key.Decrypt(gcm.Nonce.Span, request.ProtobufMessageAsBytes.Span, gcm.Tag.Span, metadata); }
            catch (AuthenticationTagMismatchException) { return (null, MessageFault_E.RrorInvalidSignature); }
        }
        // verifier.go Verify: counter 0 skips the window (replayable, short-lived messages only).
        if (counter > 0 && !domain.TryUseCounter(signer, counter)) return (null, MessageFault_E.RrorInvalidTokenOrCounter);
        return ((payload, type.ToString(), counter), null);
    }

    private byte[]? ApplyInfotainment(byte[] payload, SimVehicle v, DateTimeOffset at, string _, uint counter)
    {
        CarAction action;
        try { action = CarAction.Parser.ParseFrom(payload); }
        catch (InvalidProtocolBufferException) { return null; }
        var va = action.VehicleAction;
        var (name, reason) = va?.VehicleActionMsgCase switch
        {
            VehicleAction.VehicleActionMsgOneofCase.ChargingStartStopAction => va.ChargingStartStopAction.ChargingActionCase switch
            {
                ChargingStartStopAction.ChargingActionOneofCase.Start or ChargingStartStopAction.ChargingActionOneofCase.StartStandard
                    or ChargingStartStopAction.ChargingActionOneofCase.StartMaxRange => ("charging_start", v.StartCharging(at)),
                ChargingStartStopAction.ChargingActionOneofCase.Stop => ("charging_stop", v.StopCharging(at)),
                _ => ("charging_start_stop", "invalid_action"), // [assumed] text; Tesla's for an empty choice is not published
            },
            VehicleAction.VehicleActionMsgOneofCase.SetChargingAmpsAction => ("set_charging_amps", v.SetChargingAmps(va.SetChargingAmpsAction.ChargingAmps)),
            VehicleAction.VehicleActionMsgOneofCase.ChargingSetLimitAction => ("set_charge_limit", v.SetChargeLimit(va.ChargingSetLimitAction.Percent)),
            VehicleAction.VehicleActionMsgOneofCase.ChargePortDoorOpen => ("charge_port_door_open", v.OpenChargePort()),
            VehicleAction.VehicleActionMsgOneofCase.ChargePortDoorClose => ("charge_port_door_close", v.CloseChargePort()),
            VehicleAction.VehicleActionMsgOneofCase.HvacAutoAction => ("hvac_auto", v.SetClimate(va.HvacAutoAction.PowerOn)),
            VehicleAction.VehicleActionMsgOneofCase.VehicleControlFlashLightsAction => ("flash_lights", null),
            VehicleAction.VehicleActionMsgOneofCase.VehicleControlHonkHornAction => ("honk_horn", null),
            _ => ("unsupported", "unsupported by the simulator"), // an action the simulator does not model: said plainly
        };
        v.Touch(at);
        Log.Add(new AppliedCommand(at, "infotainment", name, counter, reason is null ? "ok" : "error", reason));
        var status = new ActionStatus { Result = reason is null ? CarOperationStatus.OperationstatusOk : CarOperationStatus.Rror };
        if (reason is not null) status.ResultReason = new ResultReason { PlainText = reason };
        return new Response { ActionStatus = status }.ToByteArray();
    }

    /// <summary>VCSEC RKE actions; protocol.md "VCSEC application-layer responses": an empty FromVCSECMessage is success.</summary>
    private byte[]? ApplyVcsec(byte[] payload, SimVehicle v, DateTimeOffset at, uint counter)
    {
        UnsignedMessage message;
        try { message = UnsignedMessage.Parser.ParseFrom(payload); }
        catch (InvalidProtocolBufferException) { return null; }
        var answer = new FromVCSECMessage();
        string name;
        if (message.SubMessageCase == UnsignedMessage.SubMessageOneofCase.RKEAction)
        {
            name = message.RKEAction switch
            {
                RKEAction_E.RkeActionLock => "lock",
                RKEAction_E.RkeActionUnlock => "unlock",
                RKEAction_E.RkeActionWakeVehicle => "wake",
                var other => other.ToString(),
            };
            switch (message.RKEAction)
            {
                case RKEAction_E.RkeActionLock: v.Locked = true; break;
                case RKEAction_E.RkeActionUnlock: v.Locked = false; break;
                case RKEAction_E.RkeActionWakeVehicle: break; // the car is awake, or the Fleet API would have answered 408
                default: answer.NominalError = new VehicleCommand.Messages.Errors.NominalError { GenericError = VehicleCommand.Messages.Errors.GenericError_E.GenericerrorUnknown }; break; // [assumed]: not modelled
            }
        }
        else
        {
            name = message.SubMessageCase.ToString();
            answer.NominalError = new VehicleCommand.Messages.Errors.NominalError { GenericError = VehicleCommand.Messages.Errors.GenericError_E.GenericerrorUnknown }; // [assumed]: not modelled
        }
        v.Touch(at);
        Log.Add(new AppliedCommand(at, "vcsec", name, counter, answer.NominalError is null ? "ok" : "error", answer.NominalError?.GenericError.ToString()));
        return answer.ToByteArray();
    }

    /// <summary>
    /// protocol.md "Response decryption" / "Response metadata": AES-GCM under K, AAD = SHA-256 of (type AES_GCM_RESPONSE,
    /// the answering domain, VIN, the answer's counter, the answer's flags (always), the request hash, the fault).
    /// Request hash ("Request hash"): the request's signature type byte then its tag, cut to 17 bytes for VCSEC.
    /// </summary>
    private static void Encrypt(RoutableMessage answer, RoutableMessage request, CarDomain domain, SessionKey key, string vin)
    {
        var sig = request.SignatureData;
        var (type, tag) = sig.SigTypeCase == SignatureData.SigTypeOneofCase.HMACPersonalizedData
            ? (SignatureType.HmacPersonalized, sig.HMACPersonalizedData.Tag)
            : (SignatureType.AesGcmPersonalized, sig.AESGCMPersonalizedData.Tag);
        var hash = new byte[1 + tag.Length];
        hash[0] = (byte)type;
        tag.Span.CopyTo(hash.AsSpan(1));
        if (domain.Domain == Domain.VehicleSecurity && hash.Length > VcsecRequestHashLength) hash = hash[..VcsecRequestHashLength];

        var counter = domain.NextResponseCounter();
        var nonce = RandomNumberGenerator.GetBytes(SessionKey.NonceLength);
        var metadata = CommandMetadata.ForResponse(domain.Domain, vin, counter, answer.Flags, hash,
            answer.SignedMessageStatus?.SignedMessageFault ?? MessageFault_E.RrorNone);
        var (ciphertext, gcmTag) = key.Encrypt(nonce, answer.ProtobufMessageAsBytes.Span, metadata);
        answer.ProtobufMessageAsBytes = ByteString.CopyFrom(ciphertext);
        answer.SignatureData = new SignatureData
        {
            AESGCMResponseData = new AES_GCM_Response_Signature_Data
            {
                Nonce = ByteString.CopyFrom(nonce), Counter = counter, Tag = ByteString.CopyFrom(gcmTag),
            },
        };
    }

    /// <summary>
    /// A protocol-layer fault: signedMessageStatus {ERROR, fault}. With <paramref name="resync"/>, fresh session info
    /// tagged for the request's UUID rides along, as verifier.go signatureError does for every signature-related fault
    /// (universal_message.proto: "Use included session info to update session and try again"). Faulted answers are
    /// never encrypted: payload and signature data are oneofs that the session info (or, for an unknown key, the lack
    /// of any shared key) occupies; the Go client decrypts only answers that carry AES_GCM_Response_data
    /// (internal/dispatcher/dispatcher.go decrypt).
    /// </summary>
    private static RoutableMessage Fault(RoutableMessage request, Domain from, MessageFault_E fault,
        (CarDomain Domain, SessionKey Key, string Vin, DateTimeOffset At)? resync = null)
    {
        var answer = Reply(request, from);
        answer.SignedMessageStatus = new MessageStatus { OperationStatus = OperationStatus_E.Rror, SignedMessageFault = fault };
        if (resync is { } r)
        {
            var signer = request.SignatureData.SignerIdentity.PublicKey.ToByteArray();
            SetSessionInfo(answer, request, r.Domain, r.Key, r.Vin, r.At, Session_Info_Status.Ok, signer);
        }
        return answer;
    }

    /// <summary>
    /// protocol.md "Message encoding": the car reverses to and from, and copies uuid into request_uuid, which VCSEC
    /// "typically" leaves empty "due to memory constraints"; the simulator's VCSEC leaves it empty.
    /// </summary>
    private static RoutableMessage Reply(RoutableMessage request, Domain from)
    {
        var answer = new RoutableMessage
        {
            ToDestination = request.FromDestination?.Clone() ?? new Destination(),
            FromDestination = new Destination { Domain = from },
        };
        if (from != Domain.VehicleSecurity) answer.RequestUuid = request.Uuid;
        return answer;
    }
}

/// <summary>The next <paramref name="Count"/> commands are applied but their answer is lost: a <paramref name="Status"/> after <paramref name="DelayMs"/>.</summary>
internal sealed record LostAnswer(int Count, int Status, int DelayMs);
