using System.Text.Json;
using Google.Protobuf;
using VehicleCommand.Messages.CarServer;
using VehicleCommand.Messages.UniversalMessage;
using VehicleCommand.Messages.Vcsec;
using CarAction = VehicleCommand.Messages.CarServer.Action;
using Void = VehicleCommand.Messages.CarServer.Void;

namespace Broker.Commands;

/// <summary>What a command touches; a tenant's policy allows commands by name, and scopes follow the kind.</summary>
public enum CommandKind { Charging, Climate, Access, Alert, Wake }

/// <summary>
/// One command the API offers, under Tesla's REST name (TESLA.md §5.2): its kind, how its parameters are checked, the
/// REST body, and the protocol message that carries it signed (<c>CarServer.Action</c> to the infotainment domain, or a
/// <c>VCSEC.UnsignedMessage</c> to vehicle security). <c>wake_up</c> is the Fleet API's own endpoint, never signed.
/// </summary>
public sealed record CommandSpec(string Name, CommandKind Kind, string Summary, CommandParameter[] Parameters)
{
    /// <summary>Charging commands are allowed by Tesla with <c>vehicle_charging_cmds</c> or <c>vehicle_cmds</c>; the rest need <c>vehicle_cmds</c>.</summary>
    public string[] AcceptedScopes => Kind switch
    {
        CommandKind.Charging => ["vehicle_charging_cmds", "vehicle_cmds"],
        _ => ["vehicle_cmds"],   // wake_up too: Tesla's scope table files it under vehicle_cmds, as the poller's wakes do
    };

    /// <summary>The scope to ask the owner for when none of <see cref="AcceptedScopes"/> is granted.</summary>
    public string NeededScope => Kind == CommandKind.Charging ? "vehicle_charging_cmds" : "vehicle_cmds";

    /// <summary>The car domain a signed form goes to.</summary>
    public Domain Domain => Kind == CommandKind.Access ? Domain.VehicleSecurity : Domain.Infotainment;
}

/// <summary>An integer parameter, with the range the broker enforces before Tesla sees it.</summary>
public sealed record CommandParameter(string Name, int Min, int Max, string Description);

/// <summary>Checked parameters of one command: names as Tesla spells them, values in range.</summary>
public sealed record CommandArguments(IReadOnlyDictionary<string, int> Values)
{
    public static readonly CommandArguments None = new(new Dictionary<string, int>());

    public int this[string name] => Values[name];

    /// <summary>Canonical JSON (sorted names): what the audit log, the REST body and idempotency compare.</summary>
    public string ToJson() => JsonSerializer.Serialize(new SortedDictionary<string, int>(Values.ToDictionary(), StringComparer.Ordinal));
}

public static class CommandCatalog
{
    /// <summary>Amps when the car has not reported its maximum yet (a reading without <c>charge_current_request_max</c>).</summary>
    public const int DefaultMaxAmps = 48;

    public static readonly IReadOnlyList<CommandSpec> All =
    [
        new("charge_start", CommandKind.Charging, "Start charging", []),
        new("charge_stop", CommandKind.Charging, "Stop charging", []),
        new("set_charging_amps", CommandKind.Charging, "Set the charging current",
            [new("charging_amps", 1, DefaultMaxAmps, "Amps, at most what the car reports as charge_current_request_max")]),
        new("set_charge_limit", CommandKind.Charging, "Set the charge limit", [new("percent", 50, 100, "Percent, 50 to 100")]),
        new("charge_port_door_open", CommandKind.Charging, "Open the charge port door", []),
        new("charge_port_door_close", CommandKind.Charging, "Close the charge port door", []),
        new("auto_conditioning_start", CommandKind.Climate, "Turn climate on", []),
        new("auto_conditioning_stop", CommandKind.Climate, "Turn climate off", []),
        new("door_lock", CommandKind.Access, "Lock the car", []),
        new("door_unlock", CommandKind.Access, "Unlock the car", []),
        new("flash_lights", CommandKind.Alert, "Flash the lights", []),
        new("honk_horn", CommandKind.Alert, "Honk the horn", []),
        new("wake_up", CommandKind.Wake, "Wake the car ($0.02 at Tesla)", []),
    ];

    private static readonly Dictionary<string, CommandSpec> ByName = All.ToDictionary(c => c.Name, StringComparer.Ordinal);

    /// <summary>What a tenant may send when its policy does not say: the charging commands only.</summary>
    public static readonly string[] DefaultAllowed = [.. All.Where(c => c.Kind == CommandKind.Charging).Select(c => c.Name)];

    public static CommandSpec? Find(string? name) => name is null ? null : ByName.GetValueOrDefault(name);

    /// <summary>
    /// Checks a JSON body against the command: an object (or nothing) with exactly its parameters, each an integer in
    /// range; <paramref name="maxAmps"/> narrows <c>charging_amps</c> to what the car reports. Returns the arguments or
    /// the problems by field, as a validation problem names them.
    /// </summary>
    public static (CommandArguments? Arguments, Dictionary<string, string[]> Errors) Bind(CommandSpec spec, JsonElement? body, int? maxAmps)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var values = new Dictionary<string, int>(StringComparer.Ordinal);
        if (body is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Undefined or JsonValueKind.Null) })
        {
            errors["body"] = ["The body must be a JSON object of the command's parameters."];
            return (null, errors);
        }
        var given = body is { ValueKind: JsonValueKind.Object } o ? o.EnumerateObject().ToList() : [];
        foreach (var twice in given.GroupBy(p => p.Name).Where(g => g.Count() > 1))
        {
            errors[twice.Key] = ["Given more than once."];
        }
        foreach (var extra in given.Where(p => spec.Parameters.All(x => x.Name != p.Name)))
        {
            errors[extra.Name] = [spec.Parameters.Length == 0
                ? $"{spec.Name} takes no parameters."
                : $"Unknown parameter; {spec.Name} takes {string.Join(", ", spec.Parameters.Select(x => x.Name))}."];
        }
        foreach (var parameter in spec.Parameters)
        {
            var max = parameter.Name == "charging_amps" && maxAmps is > 0 ? maxAmps.Value : parameter.Max;
            if (given.FirstOrDefault(p => p.Name == parameter.Name) is not { Value.ValueKind: not JsonValueKind.Undefined } found)
            {
                errors[parameter.Name] = [$"Required: {parameter.Description}."];
            }
            else if (found.Value.ValueKind != JsonValueKind.Number || !found.Value.TryGetInt32(out var value))
            {
                errors[parameter.Name] = ["Must be a whole number."];
            }
            else if (value < parameter.Min || value > max)
            {
                errors[parameter.Name] = [$"Must be between {parameter.Min} and {max}" + (max != parameter.Max ? " (the car's maximum)." : ".")];
            }
            else
            {
                values[parameter.Name] = value;
            }
        }
        return errors.Count > 0 ? (null, errors) : (new CommandArguments(values), errors);
    }

    /// <summary>The plaintext of the signed form: <c>CarServer.Action</c> or <c>VCSEC.UnsignedMessage</c> bytes (car_server.proto, vcsec.proto).</summary>
    public static ByteString SignedPayload(CommandSpec spec, CommandArguments args) => spec.Name switch
    {
        "door_lock" => new UnsignedMessage { RKEAction = RKEAction_E.RkeActionLock }.ToByteString(),
        "door_unlock" => new UnsignedMessage { RKEAction = RKEAction_E.RkeActionUnlock }.ToByteString(),
        _ => new CarAction { VehicleAction = VehicleActionOf(spec, args) }.ToByteString(),
    };

    private static VehicleAction VehicleActionOf(CommandSpec spec, CommandArguments args) => spec.Name switch
    {
        "charge_start" => new() { ChargingStartStopAction = new() { Start = new Void() } },
        "charge_stop" => new() { ChargingStartStopAction = new() { Stop = new Void() } },
        "set_charging_amps" => new() { SetChargingAmpsAction = new() { ChargingAmps = args["charging_amps"] } },
        "set_charge_limit" => new() { ChargingSetLimitAction = new() { Percent = args["percent"] } },
        "charge_port_door_open" => new() { ChargePortDoorOpen = new() },
        "charge_port_door_close" => new() { ChargePortDoorClose = new() },
        "auto_conditioning_start" => new() { HvacAutoAction = new() { PowerOn = true } },
        "auto_conditioning_stop" => new() { HvacAutoAction = new() { PowerOn = false } },
        "flash_lights" => new() { VehicleControlFlashLightsAction = new() },
        "honk_horn" => new() { VehicleControlHonkHornAction = new() },
        _ => throw new ArgumentException($"{spec.Name} has no signed form.", nameof(spec)),
    };
}
