using System.Text.Json;
using Broker.Accounts;
using Broker.Admin;
using Broker.Data;
using Broker.Polling;
using Broker.Tesla;
using Broker.Tokens;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Commands;

/// <summary>What the caller asked for: the command by name, its JSON parameters, and how to treat a sleeping car.</summary>
public sealed record CommandRequest(Guid TenantId, Guid AccountId, string Vin, string Name, JsonElement? Body, string? IdempotencyKey, bool Wake, string Actor);

/// <summary>The broker's answer: a command that was sent (or replayed from its idempotency key), or a refusal before sending.</summary>
public abstract record CommandAnswer;

public sealed record CommandSent(CommandRecord Record, bool Replayed) : CommandAnswer;

/// <summary>Refused, with the problem's status, type (a short code) and detail; extensions name the scope, link or field.</summary>
public sealed record CommandRefused(int Status, string Type, string Detail, Dictionary<string, object?>? Extensions = null, TimeSpan? RetryAfter = null) : CommandAnswer;

/// <summary>
/// Sends one command to one car for a tenant, in this order: the command and its parameters; the tenant's policy; the
/// account's scopes; the virtual key (for cars that need signing); the monthly budget; the idempotency key; Tesla's
/// 30 commands per minute per car (counted across replicas, handshakes included); then REST or signed, as the car's
/// fleet_status says. Every command sent is stored and audited with who asked, the parameters and the result; a
/// command that reached Tesla and got no answer is a <c>timeout</c> and is never sent again by the broker.
/// </summary>
public sealed class VehicleCommands(
    BrokerDbContext db, IDbContextFactory<BrokerDbContext> contexts, TeslaFleetClient fleet, TokenRefresher tokens, SignedChannel signed, CostBudget budget, AuditLog audit, PollSchedule schedule,
    TimeProvider time, IOptions<CommandOptions> options, IOptions<Partner.PartnerOptions> partner, ILogger<VehicleCommands> logger)
{
    /// <summary>Tesla's per-device command limit (TESLA.md §7).</summary>
    public const int PerMinutePerCar = 30;

    /// <summary>How long an <c>Idempotency-Key</c> names its command.</summary>
    public static readonly TimeSpan IdempotencyWindow = TimeSpan.FromHours(24);

    public async Task<CommandAnswer> SendAsync(CommandRequest request, CancellationToken ct)
    {
        if (CommandCatalog.Find(request.Name) is not { } spec)
        {
            return new CommandRefused(400, "unknown_command", $"There is no command '{request.Name}'.",
                new() { ["errors"] = new Dictionary<string, string[]> { ["name"] = [$"Known commands: {string.Join(", ", CommandCatalog.All.Select(c => c.Name))}."] } });
        }
        var account = await db.TeslaAccounts.Include(a => a.Vehicles)
            .SingleOrDefaultAsync(a => a.Id == request.AccountId && a.TenantId == request.TenantId, ct);
        var vehicle = account?.Vehicles.SingleOrDefault(v => string.Equals(v.Vin, request.Vin, StringComparison.OrdinalIgnoreCase) && v.RetiredAt is null);
        if (account is null || vehicle is null)
        {
            return new CommandRefused(404, "not_found", account is null ? "No such account in this tenant." : $"The account has no car {request.Vin}.");
        }
        var reading = await db.VehicleReadings.SingleOrDefaultAsync(r => r.VehicleId == vehicle.Id, ct);
        var (args, errors) = CommandCatalog.Bind(spec, request.Body, reading?.ChargeCurrentRequestMax);
        if (args is null)
        {
            return new CommandRefused(400, "invalid_parameters", "The command's parameters are missing or out of range.", new() { ["errors"] = errors });
        }
        var tenant = await db.Tenants.AsNoTracking().SingleAsync(t => t.Id == request.TenantId, ct);
        if (!tenant.AllowedCommands.Contains(spec.Name) || (request.Wake && !tenant.AllowedCommands.Contains("wake_up")))
        {
            var what = tenant.AllowedCommands.Contains(spec.Name) ? "wake_up (asked for with wake=true)" : spec.Name;
            return await AuditedRefusalAsync(request, spec, args, new CommandRefused(403, "command_not_allowed",
                $"The tenant's policy does not allow {what}; an admin can allow it in the policy's allowedCommands.",
                new() { ["allowedCommands"] = tenant.AllowedCommands }), ct);
        }
        if (account.Status != AccountStatus.Active)
        {
            return new CommandRefused(409, "account_not_active", $"The account is {account.Status.ToString().ToLowerInvariant()}: reconnect it first.");
        }
        if (!spec.AcceptedScopes.Any(account.GrantedScopes.Contains))
        {
            return await AuditedRefusalAsync(request, spec, args, new CommandRefused(403, "missing_scope",
                $"The owner did not grant {spec.NeededScope}, which {spec.Name} needs. Add the scope to the tenant's connect scopes and send the owner a reconnect link.",
                new() { ["missingScope"] = spec.NeededScope }), ct);
        }
        // Known unpaired within the last minute: refused without a billed handshake. Older than that, the car is asked
        // again, so a key the owner has just paired through the link works at once.
        var needsKey = spec.Kind != CommandKind.Wake && vehicle.CommandProtocolRequired == true;
        if (needsKey && vehicle.KeyPaired == false && vehicle.KeyCheckedAt > time.GetUtcNow() - TimeSpan.FromMinutes(1))
        {
            return await AuditedRefusalAsync(request, spec, args, NotPaired(vehicle.Vin), ct);
        }
        var decision = await budget.CheckAsync(request.TenantId, ct);
        if (!decision.MayRead || ((spec.Kind == CommandKind.Wake || request.Wake) && !decision.MayWake))
        {
            return new CommandRefused(429, "budget", decision.MayRead
                ? "The month's Fleet API projection is above the tenant's budget: no wakes until it is back under."
                : "The tenant's monthly Fleet API budget is spent: no billed calls until the next month or a higher budget.");
        }

        var claim = await ClaimAsync(request, spec, vehicle, args, ct);
        if (claim is not CommandSent { Replayed: false } claimed)
        {
            return claim;
        }
        var record = claimed.Record;
        db.Commands.Attach(record);   // written by the claim's own context; its result is saved with this one's changes
        // From here the command may reach the car: it is finished and recorded even if the client goes away. The Fleet API
        // calls have their own timeouts; this bounds the whole, a wake included.
        using var sending = new CancellationTokenSource(TimeSpan.FromSeconds(options.Value.WakeTimeoutSeconds + 120));
        ct = sending.Token;
        var caller = await CallerAsync(account, ct);
        if (caller is null)
        {
            return await FinishAsync(record, new ChannelResult(CommandOutcome.Failed, "the account's token could not be refreshed; reconnect it", 0), null, freeKey: true, ct);
        }
        try
        {
            ChannelResult result;
            string channel;
            try
            {
                (result, channel) = await DeliverAsync(caller, account, vehicle, spec, args, request.Wake, ct);
            }
            catch (TeslaApiException e) when (e.Status == 401)
            {
                // Refused before it reached the car: once more with a refreshed token.
                caller = await CallerAsync(account, ct, rejected: caller.AccessToken)
                    ?? throw new TeslaApiException(401, "token", "The account's token could not be refreshed.");
                (result, channel) = await DeliverAsync(caller, account, vehicle, spec, args, request.Wake, ct);
            }
            if (channel == "signed" && result.Outcome is CommandOutcome.Ok or CommandOutcome.Rejected)
            {
                vehicle.KeyPaired = true;   // the car answered a signed command: it holds the key
                vehicle.KeyCheckedAt = time.GetUtcNow();
            }
            if (result.Outcome == CommandOutcome.Ok && reading is not null)
            {
                await PollSoonAsync(account.Id, vehicle.Id, ct);
            }
            return await FinishAsync(record, result, channel, freeKey: false, ct);
        }
        catch (KeyNotPairedException e)
        {
            vehicle.KeyPaired = false;
            vehicle.KeyCheckedAt = time.GetUtcNow();
            await FinishAsync(record, new ChannelResult(CommandOutcome.Failed, "virtual key not paired", e.FleetCalls), "signed", freeKey: true, ct);
            return NotPaired(vehicle.Vin);
        }
        catch (VehicleUnavailableException)
        {
            await FinishAsync(record, new ChannelResult(CommandOutcome.Failed, "asleep", 1), null, freeKey: true, ct);
            return new CommandRefused(409, "vehicle_asleep", request.Wake
                ? "The car did not wake in time; try again in a minute."
                : "The car is asleep or offline. Send again with ?wake=true to wake it first ($0.02 at Tesla), if the policy allows wake_up.");
        }
        catch (TeslaApiException e) when (e.Status is null or (>= 200 and < 300) || (e.Status >= 500 && e.Status != 503))
        {
            // The request left and no usable answer came back (none in time, or a 5xx, which may come after the car acted;
            // 503 means it never reached the car: vehicle-command's inet.go). Never resend (docs/commands.md).
            logger.LogWarning("Command {Command} to {Vin} got no answer ({Status} {Error})", spec.Name, vehicle.Vin, e.Status, e.Error);
            return await FinishAsync(record, new ChannelResult(CommandOutcome.Timeout,
                (e.Status is null ? "Tesla did not answer in time" : $"Tesla answered {e.Status}") + "; the car may or may not have acted. Check its state before sending again.", 1),
                null, freeKey: false, ct);
        }
        catch (TeslaApiException e) when (e.Status == 429)
        {
            await FinishAsync(record, new ChannelResult(CommandOutcome.Failed, "Tesla's rate limit", 1), null, freeKey: true, ct);
            return new CommandRefused(429, "tesla_rate_limit", "Tesla refused the command: too many for this car. Try again later.", RetryAfter: e.RetryAfter);
        }
        catch (TeslaApiException e) when (e.Status == 403 && e.Error?.Contains("scope", StringComparison.OrdinalIgnoreCase) == true)
        {
            await FinishAsync(record, new ChannelResult(CommandOutcome.Failed, "missing scope at Tesla", 1), null, freeKey: true, ct);
            return new CommandRefused(403, "missing_scope", $"Tesla says the token lacks a scope {spec.Name} needs ({spec.NeededScope}): reconnect with it.",
                new() { ["missingScope"] = spec.NeededScope });
        }
        catch (TeslaApiException e)
        {
            return await FinishAsync(record, new ChannelResult(CommandOutcome.Failed, $"Tesla answered {e.Status}: {e.Error}", 1), null, freeKey: true, ct);
        }
        catch (VehicleCommand.Crypto.CommandProtocolException e) when (e.Failure is not (VehicleCommand.Crypto.CommandProtocolFailure.ResponseNotAuthentic
            or VehicleCommand.Crypto.CommandProtocolFailure.ResponseNotEncrypted or VehicleCommand.Crypto.CommandProtocolFailure.WrongDomain))
        {
            // The handshake's answer did not verify: no command was sent.
            logger.LogWarning("Command {Command} to {Vin}: the car's session info did not verify ({Failure})", spec.Name, vehicle.Vin, e.Failure);
            return await FinishAsync(record, new ChannelResult(CommandOutcome.Failed, $"the car's handshake answer did not verify ({e.Failure}); nothing was sent", 1),
                "signed", freeKey: true, ct);
        }
        catch (VehicleCommand.Crypto.CommandProtocolException e)
        {
            logger.LogWarning("Command {Command} to {Vin}: the car's answer did not verify ({Failure})", spec.Name, vehicle.Vin, e.Failure);
            return await FinishAsync(record, new ChannelResult(CommandOutcome.Failed,
                "The car's answer could not be verified; it may have acted. Check its state before sending again.", 1), "signed", freeKey: false, ct);
        }
        catch (Exception e) when (e is InvalidOperationException or Google.Protobuf.InvalidProtocolBufferException && !ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Command {Command} to {Vin} failed", spec.Name, vehicle.Vin);
            return e is InvalidOperationException
                ? await FinishAsync(record, new ChannelResult(CommandOutcome.Failed, e.Message, 0), null, freeKey: true, ct)
                : await FinishAsync(record, new ChannelResult(CommandOutcome.Timeout, "the car's answer did not parse; the car may or may not have acted. Check its state before sending again.", 1), "signed", freeKey: false, ct);
        }
        catch (OperationCanceledException)
        {
            return await FinishAsync(record, new ChannelResult(CommandOutcome.Timeout,
                "the broker stopped waiting for the answer; the car may or may not have acted. Check its state before sending again.", 1), null, freeKey: false, CancellationToken.None);
        }
    }

    /// <summary>REST or signed, as the car needs; wakes the car first when asked and it sleeps.</summary>
    private async Task<(ChannelResult Result, string Channel)> DeliverAsync(FleetAccount caller, TeslaAccount account, Vehicle vehicle, CommandSpec spec, CommandArguments args, bool wake, CancellationToken ct)
    {
        if (spec.Kind == CommandKind.Wake)
        {
            await fleet.WakeUpAsync(caller, vehicle.Vin, ct);
            return (new ChannelResult(CommandOutcome.Ok, "waking: the car is online in 10 to 60 seconds", 1), "rest");
        }
        try
        {
            return await OnceAsync(caller, vehicle, spec, args, ct);
        }
        catch (VehicleUnavailableException) when (wake)
        {
            await fleet.WakeUpAsync(caller, vehicle.Vin, ct);
            await WaitOnlineAsync(caller, vehicle.Vin, ct);
            return await OnceAsync(caller, vehicle, spec, args, ct);
        }
    }

    private async Task<(ChannelResult Result, string Channel)> OnceAsync(FleetAccount caller, Vehicle vehicle, CommandSpec spec, CommandArguments args, CancellationToken ct)
    {
        var canSign = await signed.CanSignAsync(ct);
        if (vehicle.CommandProtocolRequired == true || (vehicle.CommandProtocolRequired is null && canSign))
        {
            try
            {
                return (await signed.SendAsync(caller, vehicle.Id, vehicle.Vin, spec.Domain, CommandCatalog.SignedPayload(spec, args), ct), "signed");
            }
            catch (TeslaApiException e) when (e.Status == 422 && vehicle.CommandProtocolRequired is null)
            {
                // "vehicle does not support signed commands" (pre-2021 S/X): plain REST from now on, as Tesla's proxy does.
                vehicle.CommandProtocolRequired = false;
            }
            catch (KeyNotPairedException) when (vehicle.CommandProtocolRequired is null)
            {
                // Not known to need signing, and not paired: REST may still do (a car that needs signing says so, and
                // the answer below is then the 403 with the pairing link).
                vehicle.KeyPaired = false;
                vehicle.KeyCheckedAt = time.GetUtcNow();
            }
        }
        try
        {
            var rest = await fleet.SendCommandAsync(caller, vehicle.Vin, spec.Name, args.Values, ct);
            return (new ChannelResult(rest.Result ? CommandOutcome.Ok : CommandOutcome.Rejected, rest.Reason is { Length: > 0 } r ? r : null, 1), "rest");
        }
        catch (TeslaApiException e) when (e.Status == 403 && e.Error?.Contains("Vehicle Command Protocol required", StringComparison.OrdinalIgnoreCase) == true)
        {
            vehicle.CommandProtocolRequired = true;   // learnt: sign from now on
            if (!canSign)
            {
                return (new ChannelResult(CommandOutcome.Failed, "the car accepts only signed commands, and the operator has not created a partner key yet", 1), "rest");
            }
            if (vehicle.KeyPaired == false)
            {
                throw new KeyNotPairedException(1);
            }
            var again = await signed.SendAsync(caller, vehicle.Id, vehicle.Vin, spec.Domain, CommandCatalog.SignedPayload(spec, args), ct);
            return (again with { FleetCalls = again.FleetCalls + 1 }, "signed");
        }
    }

    /// <summary>Polls the free vehicle list until the car says online, for at most <see cref="CommandOptions.WakeTimeoutSeconds"/>.</summary>
    private async Task WaitOnlineAsync(FleetAccount caller, string vin, CancellationToken ct)
    {
        var until = DateTimeOffset.UtcNow.AddSeconds(options.Value.WakeTimeoutSeconds);
        while (DateTimeOffset.UtcNow < until)
        {
            await Task.Delay(TimeSpan.FromSeconds(options.Value.WakePollSeconds), ct);
            var cars = await fleet.ListVehiclesAsync(caller, ct);
            if (cars.Any(c => string.Equals(c.Vin, vin, StringComparison.OrdinalIgnoreCase) && c.State == "online"))
            {
                return;
            }
        }
        throw new VehicleUnavailableException(408);
    }

    /// <summary>
    /// Under a per-car lock: replays or refuses a known idempotency key, enforces 30 per minute, and writes the pending row.
    /// </summary>
    private async Task<CommandAnswer> ClaimAsync(CommandRequest request, CommandSpec spec, Vehicle vehicle, CommandArguments args, CancellationToken ct)
    {
        // Its own context, so a retry of the whole transaction (Npgsql's retrying strategy, after a transient failure)
        // starts clean and the caller's tracked account and car are not touched.
        await using var claim = await contexts.CreateDbContextAsync(ct);
        return await claim.Database.CreateExecutionStrategy().ExecuteAsync(async Task<CommandAnswer> () =>
        {
            claim.ChangeTracker.Clear();
            var now = time.GetUtcNow();
            var parameters = args.ToJson();
            await using var tx = await claim.Database.BeginTransactionAsync(ct);
            // One lock per Idempotency-Key (two cars asked at once with one key) and one per VIN: Tesla counts a car's
            // commands whichever tenant sends them.
            if (request.IdempotencyKey is { } held)
            {
                await claim.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({request.TenantId.ToString() + "/" + held}, 16))", ct);
            }
            await claim.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({vehicle.Vin.ToUpperInvariant()}, 15))", ct);
            if (request.IdempotencyKey is { } key)
            {
                var known = await claim.Commands.SingleOrDefaultAsync(c => c.TenantId == request.TenantId && c.IdempotencyKey == key, ct);
                if (known is not null && known.RequestedAt <= now - IdempotencyWindow)
                {
                    known.IdempotencyKey = null;   // a day old: the key is free again
                    await claim.SaveChangesAsync(ct);
                }
                else if (known is not null)
                {
                    await tx.RollbackAsync(ct);
                    if (known.VehicleId != vehicle.Id || known.Name != spec.Name || !SameParameters(known.Parameters, args))
                    {
                        return new CommandRefused(422, "idempotency_key_reused", "This Idempotency-Key was used within the last 24 hours for a different command, car or parameters.");
                    }
                    if (known.Outcome == CommandOutcome.Pending && known.RequestedAt < now - TimeSpan.FromMinutes(10))
                    {
                        // Left pending by a broker that stopped mid-send: it may have reached the car.
                        known.Outcome = CommandOutcome.Timeout;
                        known.Reason = "the broker stopped while sending; the car may or may not have acted. Check its state before sending again.";
                        known.CompletedAt = now;
                        await claim.SaveChangesAsync(ct);
                        return new CommandSent(known, Replayed: true);
                    }
                    return known.Outcome == CommandOutcome.Pending
                        ? new CommandRefused(409, "command_in_progress", "A command with this Idempotency-Key is being sent; ask again for its result in a moment.")
                        : new CommandSent(known, Replayed: true);
                }
            }
            var window = await claim.Commands.Where(c => c.Vin == vehicle.Vin && c.RequestedAt > now - TimeSpan.FromMinutes(1))
                .Select(c => new { c.RequestedAt, Calls = c.Outcome == CommandOutcome.Pending ? Math.Max(c.FleetCalls, 1) : c.FleetCalls }).ToListAsync(ct);
            if (window.Sum(c => c.Calls) + 1 > PerMinutePerCar)
            {
                await tx.RollbackAsync(ct);
                var retry = window.Min(c => c.RequestedAt) + TimeSpan.FromMinutes(1) - now;
                return new CommandRefused(429, "rate_limit", $"Tesla allows {PerMinutePerCar} command calls per minute per car; this car has used them.",
                    RetryAfter: retry > TimeSpan.Zero ? retry : TimeSpan.FromSeconds(1));
            }
            var record = new CommandRecord
            {
                TenantId = request.TenantId, AccountId = request.AccountId, VehicleId = vehicle.Id, Vin = vehicle.Vin, Name = spec.Name,
                Parameters = parameters, IdempotencyKey = request.IdempotencyKey, Actor = request.Actor, RequestedAt = now,
            };
            claim.Commands.Add(record);
            await claim.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            return new CommandSent(record, Replayed: false);
        });
    }

    /// <summary>
    /// Stores the result with the audit event. <paramref name="freeKey"/>: nothing reached the car (asleep, refused by
    /// Tesla before the car), so the idempotency key is released and the same request may be sent again.
    /// </summary>
    private async Task<CommandAnswer> FinishAsync(CommandRecord record, ChannelResult result, string? channel, bool freeKey, CancellationToken ct)
    {
        record.Outcome = result.Outcome;
        record.Reason = Hosting.TextInput.Clean(result.Reason) is { Length: > 400 } long_ ? long_[..400] : Hosting.TextInput.Clean(result.Reason);
        record.Channel = channel;
        record.FleetCalls = result.FleetCalls;
        record.CompletedAt = time.GetUtcNow();
        if (freeKey)
        {
            record.IdempotencyKey = null;
        }
        audit.Add("command.sent", record.TenantId, record.AccountId,
            $"{record.Name} {record.Parameters} to {record.Vin}" + (channel is null ? "" : $" ({channel})") + $": {record.Outcome}" + (record.Reason is null ? "" : $", {record.Reason}"),
            actor: record.Actor);
        await db.SaveChangesAsync(CancellationToken.None);   // the car may have acted: the record must be written even if the caller left
        return new CommandSent(record, Replayed: false);
    }

    /// <summary>Postgres stores jsonb in its own spelling: the stored parameters are compared as values, not as text.</summary>
    private static bool SameParameters(string stored, CommandArguments args)
    {
        var known = JsonSerializer.Deserialize<Dictionary<string, int>>(stored) ?? [];
        return known.Count == args.Values.Count && known.All(p => args.Values.TryGetValue(p.Key, out var v) && v == p.Value);
    }

    private async Task<CommandAnswer> AuditedRefusalAsync(CommandRequest request, CommandSpec spec, CommandArguments args, CommandRefused refusal, CancellationToken ct)
    {
        audit.Add("command.refused", request.TenantId, request.AccountId, $"{spec.Name} {args.ToJson()} to {request.Vin}: {refusal.Type}", actor: request.Actor);
        await db.SaveChangesAsync(ct);
        return refusal;
    }

    private CommandRefused NotPaired(string vin) => new(403, "virtual_key_not_paired",
        "The car does not hold this broker's virtual key, so it refuses signed commands. The owner pairs it once from the Tesla app via the pairing link.",
        new() { ["pairingUrl"] = partner.Value.PairingUrl(vin) });

    private async Task<FleetAccount?> CallerAsync(TeslaAccount account, CancellationToken ct, string? rejected = null)
    {
        try
        {
            return new FleetAccount(account.TenantId, account.Id, account.FleetApiBaseUrl, await tokens.GetAccessTokenAsync(account.Id, ct, rejected));
        }
        catch (Exception e) when (e is AccountNotUsableException or TeslaAuthException)
        {
            logger.LogWarning("No usable token for account {AccountId}: {Reason}", account.Id, e.Message);
            return null;
        }
    }

    /// <summary>The car's reading is due now, so the next poll shows what the command changed.</summary>
    private async Task PollSoonAsync(Guid accountId, Guid vehicleId, CancellationToken ct)
    {
        await db.VehicleReadings.Where(r => r.VehicleId == vehicleId).ExecuteUpdateAsync(s => s.SetProperty(r => r.NextPollAt, time.GetUtcNow()), ct);
        await schedule.PollSoonAsync(accountId, ct);
    }
}
