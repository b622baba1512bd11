using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Broker.Admin.Pages;
using Broker.Commands;
using Broker.People;
using static Broker.Admin.ConsolePages;

namespace Broker.Admin;

/// <summary>
/// <c>POST /console/tenants/{slug}/accounts/{id}/vehicles/{vin}/commands/{name}</c>: the account page's charging forms, sent
/// through <see cref="VehicleCommands"/> as the API sends them (policy, scopes, key, budget, rate limits), by the person signed
/// in. Each form carries an idempotency key made when the page was rendered, so a double click or a browser's resend is sent
/// once. Post, redirect, show once: the outcome is sealed into a cookie for the account page, which shows it beside the car.
/// </summary>
internal static class ConsoleVehicleCommands
{
    /// <summary>Who may send: members and admins, as the API's sendCommand (its default Member role).</summary>
    public const TenantRole Role = TenantRole.Member;

    public const string KeyField = "idempotency_key";

    private const string OutcomeCookie = "broker.console.command";

    public static void Map(RouteGroupBuilder tenant) => tenant.MapPost("/accounts/{id:guid}/vehicles/{vin}/commands/{name}", SendAsync);

    /// <summary>The outcome a post left for the account page, once (null when none, or it is older than two minutes).</summary>
    public static ChargingCommands.Result? TakeOutcome(HttpContext http, string slug, Guid id) =>
        TakeOnce<ChargingCommands.Result>(http, OutcomeCookie, AccountPath(slug, id));

    private static async Task<IResult> SendAsync(string slug, Guid id, string vin, string name, HttpContext http, TenantAccess access, VehicleCommands commands)
    {
        if (await ResolveAsync(http, access, slug, Role) is not { } r)
        {
            return Denied(http);
        }
        var back = AccountPath(slug, id);
        if (CommandCatalog.Find(name) is not { Kind: CommandKind.Charging } spec)
        {
            return Message(http, "Not sent", "The console sends charging commands only; the API sends the others.", 404, back: back);
        }
        var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted) : FormCollection.Empty;
        var key = form[KeyField].ToString();
        if (form[KeyField].Count != 1 || key.Length is 0 or > 255 || key.Any(c => c is < ' ' or > '~'))
        {
            // The page's forms always carry one: without it a resend could act twice, so nothing is sent.
            return Message(http, "Not sent", "The form sent no usable idempotency key, so nothing was sent. Reload the account page and send again.", 400, back: back);
        }
        var answer = await commands.SendAsync(new CommandRequest(r.Tenant!.Id, id, vin, spec.Name, Body(spec, form), key, Wake: false, http.User.Actor()), http.RequestAborted);
        if (answer is CommandRefused { Type: "not_found" } missing)
        {
            return Message(http, "Not found", missing.Detail, 404, back: back);
        }
        var typed = spec.Parameters.Select(p => form[p.Name].ToString()).FirstOrDefault();
        SealOnce(http, OutcomeCookie, back, Describe(vin, spec, answer, typed), TimeSpan.FromMinutes(2));
        return TypedResults.LocalRedirect($"{back}#charging-{Uri.EscapeDataString(vin)}");
    }

    /// <summary>
    /// The form's fields as the API's JSON body, so <see cref="CommandCatalog.Bind"/> judges them with the API's words: a whole
    /// number as a number, anything else as the text typed (refused as not a number), an empty or missing field left out (required).
    /// </summary>
    private static JsonElement Body(CommandSpec spec, IFormCollection form)
    {
        var body = new JsonObject();
        foreach (var parameter in spec.Parameters)
        {
            var text = form[parameter.Name].ToString().Trim();
            if (text.Length > 0)
            {
                body[parameter.Name] = int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : text;
            }
        }
        return JsonSerializer.SerializeToElement(body);
    }

    private static ChargingCommands.Result Describe(string vin, CommandSpec spec, CommandAnswer answer, string? typed) => answer switch
    {
        CommandSent sent => Sent(vin, spec, sent),
        CommandRefused { Type: "invalid_parameters" } refused => Invalid(vin, spec, refused, typed),
        CommandRefused { Type: "virtual_key_not_paired" } refused => new(vin, spec.Name, "error", refused.Detail,
            LinkUrl: refused.Extensions?.GetValueOrDefault("pairingUrl") as string),
        CommandRefused { Type: "vehicle_asleep" } => new(vin, spec.Name, "warn",
            "The car is asleep or offline, so nothing was sent. Send again once it is online (its state above shows it after the next poll)."),
        CommandRefused { Type: "command_in_progress" } => new(vin, spec.Name, "warn",
            "This form was sent twice; the first is still on its way to the car. Reload the page in a moment to see how it went."),
        CommandRefused { Type: "idempotency_key_reused" } => new(vin, spec.Name, "warn",
            "This form was already used to send other values, so nothing was sent. The page now has fresh forms: send again."),
        CommandRefused { RetryAfter: { } retry } refused => new(vin, spec.Name, "error",
            $"{refused.Detail} Try again in {Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds))} s."),
        CommandRefused refused => new(vin, spec.Name, "error", refused.Detail),
        _ => throw new InvalidOperationException("Unknown answer."),
    };

    private static ChargingCommands.Result Sent(string vin, CommandSpec spec, CommandSent sent)
    {
        var c = sent.Record;
        var (tone, text) = c.Outcome switch
        {
            CommandOutcome.Ok => ("ok", Done(spec, c) + (c.Channel is { } channel ? $" ({(channel == "signed" ? "signed" : "REST")})" : "")
                + ". The readings above change at the car's next poll, in a few seconds."),
            CommandOutcome.Rejected => ("warn", $"The car refused: {c.Reason?.TrimEnd('.') ?? "no reason given"}."),
            CommandOutcome.Timeout => ("warn", c.Reason ?? "Tesla did not answer in time; the car may or may not have acted."),
            _ => ("error", $"Not done: {c.Reason?.TrimEnd('.') ?? "the command failed"}."),
        };
        // A replay is the answer to the first post of this form (a double click, a resend): nothing went to the car again.
        return new(vin, spec.Name, tone, (sent.Replayed ? "Already sent from this form: " : "") + text);
    }

    private static string Done(CommandSpec spec, CommandRecord c)
    {
        var values = JsonSerializer.Deserialize<Dictionary<string, int>>(c.Parameters) ?? [];
        return spec.Name switch
        {
            "charge_start" => "Charging started",
            "charge_stop" => "Charging stopped",
            "set_charging_amps" => $"Charging amps set to {values.GetValueOrDefault("charging_amps")} A",
            "set_charge_limit" => $"Charge limit set to {values.GetValueOrDefault("percent")} %",
            _ => $"{spec.Summary}: done",
        };
    }

    /// <summary>The field's own message from <see cref="CommandCatalog.Bind"/>, named as the form labels it, beside the field.</summary>
    private static ChargingCommands.Result Invalid(string vin, CommandSpec spec, CommandRefused refused, string? typed)
    {
        var errors = refused.Extensions?.GetValueOrDefault("errors") as Dictionary<string, string[]> ?? [];
        var (field, messages) = errors.FirstOrDefault();
        var text = field is null ? refused.Detail : $"{ChargingCommands.LabelOf(field)}: {string.Join(" ", messages)}";
        return new(vin, spec.Name, "error", $"Nothing was sent. {text}", Field: field, Typed: typed);
    }

    private static string AccountPath(string slug, Guid id) => $"/console/tenants/{slug}/accounts/{id}";
}
