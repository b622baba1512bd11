using Broker.Data;
using Broker.Tesla;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Partner;

/// <summary>
/// Registers the partner domain in Fleet API regions (TESLA.md §4.2–4.3): a partner token per region from that region's
/// realm (China's app at China's token endpoint: the global app is unknown there, tesla-confirmed §2), then
/// <c>partner_accounts</c>, then the public-key check. One row per region records the outcome; the caller saves.
/// Partner tokens live only for the call: never stored, never logged.
/// </summary>
public sealed class PartnerRegistrar(
    BrokerDbContext db, TeslaAuthClient auth, TeslaFleetClient fleet, IOptions<TeslaOptions> tesla, IOptions<PartnerOptions> options,
    TeslaAppGuard apps, TimeProvider time, ILogger<PartnerRegistrar> logger)
{
    public async Task<PartnerRegistration> RegisterAsync(string region, string domain, PartnerKey key, CancellationToken ct)
    {
        var baseUrl = tesla.Value.RegionBaseUrl(region) ?? throw new ArgumentException($"Region '{region}' is not configured.", nameof(region));
        var realm = tesla.Value.RealmOfRegion(region);
        var row = await db.PartnerRegistrations.SingleOrDefaultAsync(r => r.Region == region, ct)
            ?? db.PartnerRegistrations.Add(new PartnerRegistration { Region = region, Domain = domain, Status = "failed" }).Entity;
        var now = time.GetUtcNow();
        (row.Domain, row.AttemptedAt) = (domain, now);
        try
        {
            var token = await auth.GetPartnerTokenAsync(realm, baseUrl, options.Value.Scopes, ct);
            await fleet.RegisterPartnerAsync(baseUrl, token.AccessToken, domain, ct);
            await apps.LiftedAsync(region, ct);   // Tesla just answered this app's Fleet API call: whatever disabled it is over
            row.PublicKeyHex = await fleet.GetPartnerPublicKeyAsync(baseUrl, token.AccessToken, domain, ct);
            if (string.Equals(row.PublicKeyHex, key.PublicKeyHex, StringComparison.OrdinalIgnoreCase))
            {
                (row.Status, row.Error, row.RegisteredAt) = ("registered", null, now);
            }
            else
            {
                Fail(row, $"Tesla holds a different public key for {domain} ({Short(row.PublicKeyHex)}) than the broker's current key ({Short(key.PublicKeyHex)}). "
                    + $"Check that {PartnerOptions.PublicKeyUrlOf(domain)} is served by this broker, then register again.");
            }
        }
        catch (TeslaAuthException ex)
        {
            // No answer, or refused before anything left (missing configuration): the message says which. A 5xx is Tesla's
            // trouble, not the operator's credentials; only a 4xx points at the client id and secret.
            Fail(row, ex.Status switch
            {
                null => ex.Message,
                >= 500 => $"Tesla's sign-in service failed in region {region} ({ex.Error}): nothing is wrong on this side; register again later.",
                _ => $"Tesla refused the partner token ({ex.Error}). Check {realm.ConfigurationKey}:ClientId and {realm.ConfigurationKey}:ClientSecret, "
                    + "and that the app may use client credentials.",
            });
        }
        catch (TeslaApiException ex)
        {
            Fail(row, Explain(ex, region, domain));
        }
        logger.LogInformation("Partner registration in {Region} for {Domain}: {Status}", region, domain, row.Status);
        return row;
    }

    private static string Explain(TeslaApiException ex, string region, string domain) => ex.Status switch
    {
        424 => $"Tesla could not download the public key. It must be reachable at {PartnerOptions.PublicKeyUrlOf(domain)} (Tesla said: {ex.Error}).",
        422 or 400 => $"Tesla refused the domain '{domain}' ({ex.Error}). It must be the root domain of the app's allowed origins on developer.tesla.com.",
        401 or 403 => $"Tesla refused the partner token in region {region} ({ex.Error}).",
        null => $"Tesla's Fleet API in region {region} did not answer ({ex.Error}): register again later.",
        >= 500 => $"Tesla's Fleet API in region {region} failed ({ex.Status} {ex.Error}): nothing is wrong on this side; register again later.",
        _ => $"Tesla answered {ex.Status} in region {region}: {ex.Error ?? "no error text"}.",
    };

    private static void Fail(PartnerRegistration row, string error) =>
        (row.Status, row.Error) = ("failed", error.Length > 1000 ? error[..1000] : error);

    private static string Short(string? hex) => hex is null ? "none" : hex.Length > 16 ? hex[..16] + "…" : hex;
}
