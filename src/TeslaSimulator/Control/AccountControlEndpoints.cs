using Microsoft.AspNetCore.Http.HttpResults;
using TeslaSimulator.State;

namespace TeslaSimulator.Control;

internal sealed record AppRefusalRequest(int? Status);

/// <summary>
/// Modes of the control API that change what an account or the whole app meets at Tesla, each modelled on a real
/// answer (docs/tesla-confirmed.md): cars and sites come and go, an owner Tesla calls an "unknown user", an app Tesla
/// disabled for its billing limit.
/// </summary>
internal static class AccountControlEndpoints
{
    public static RouteGroupBuilder MapAccountControl(this RouteGroupBuilder sim)
    {
        // Accounts gain and lose cars and sites; /products and the vehicle list follow at once.
        sim.MapPost("/accounts/{email}/vehicles", Results<Created, NotFound, Conflict<string>> (string email, SeedVehicle car, SimulatorState state) =>
        {
            lock (state.Gate)
            {
                if (state.AccountByEmail(email) is not { } account) return TypedResults.NotFound();
                if (state.AllVehicles.Any(v => v.Vin.Equals(car.Vin, StringComparison.OrdinalIgnoreCase))) return TypedResults.Conflict($"VIN {car.Vin} exists");
                account.Vehicles.Add(new SimVehicle(car, account, state.Now));
                return TypedResults.Created($"/_sim/accounts/{email}/vehicles/{car.Vin}");
            }
        });
        sim.MapDelete("/accounts/{email}/vehicles/{vin}", Results<NoContent, NotFound> (string email, string vin, SimulatorState state) =>
        {
            lock (state.Gate)
            {
                return state.AccountByEmail(email)?.Vehicles.RemoveAll(v => v.Vin.Equals(vin, StringComparison.OrdinalIgnoreCase)) > 0
                    ? TypedResults.NoContent() : TypedResults.NotFound();
            }
        });
        sim.MapPost("/accounts/{email}/energy-sites", Results<Created, NotFound, Conflict<string>> (string email, SeedEnergySite site, SimulatorState state) =>
        {
            lock (state.Gate)
            {
                if (state.AccountByEmail(email) is not { } account) return TypedResults.NotFound();
                if (state.AllSites.Any(s => s.Seed.EnergySiteId == site.EnergySiteId)) return TypedResults.Conflict($"site {site.EnergySiteId} exists");
                account.EnergySites.Add(new SimEnergySite(site, account, state.Now));
                return TypedResults.Created($"/_sim/accounts/{email}/energy-sites/{site.EnergySiteId}");
            }
        });
        sim.MapDelete("/accounts/{email}/energy-sites/{id:long}", Results<NoContent, NotFound> (string email, long id, SimulatorState state) =>
        {
            lock (state.Gate)
            {
                return state.AccountByEmail(email)?.EnergySites.RemoveAll(s => s.Seed.EnergySiteId == id) > 0 ? TypedResults.NoContent() : TypedResults.NotFound();
            }
        });

        // 401 "unknown user" to every Fleet API call of the account while refreshes keep working, until DELETE.
        sim.MapPut("/accounts/{email}/unknown-user", (string email, SimulatorState state) => SetUnknownUser(email, true, state));
        sim.MapDelete("/accounts/{email}/unknown-user", (string email, SimulatorState state) => SetUnknownUser(email, false, state));

        // The developer app disabled by Tesla: {"status": 403} over the billing limit, 402 unpaid, null enabled again.
        sim.MapPut("/app-refusal", Results<NoContent, BadRequest<string>> (AppRefusalRequest request, SimulatorState state) =>
        {
            if (request.Status is not (null or 402 or 403)) return TypedResults.BadRequest("status is 403 (billing limit), 402 (payment required) or null");
            lock (state.Gate) state.AppRefusal = request.Status;
            return TypedResults.NoContent();
        });
        return sim;
    }

    private static Results<NoContent, NotFound> SetUnknownUser(string email, bool on, SimulatorState state)
    {
        lock (state.Gate)
        {
            if (state.AccountByEmail(email) is not { } account) return TypedResults.NotFound();
            account.UnknownUser = on;
            return TypedResults.NoContent();
        }
    }
}
