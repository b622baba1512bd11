using Broker.Tesla;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;

namespace Broker.Connect;

/// <summary>
/// Hooks of the Tesla OpenID Connect scheme. The handler keeps what it does well: state, the correlation cookie, nonce
/// generation and PKCE. On the way out we send the browser to the chosen realm's authorize endpoint with that realm's
/// client id. On the callback: message received (state and correlation checked by the handler, expiry by us) → code
/// received, where we finish the whole connect ourselves: redeem the code at the realm's token host with
/// <c>audience</c>, identify the user (<see cref="TeslaIdentities"/>), store the account and redirect to the result
/// page. The handler's own id_token validation never runs, so a Tesla id_token that is absent or shaped unlike
/// OpenID Connect expects (tesla-confirmed §1) cannot fail a connect. Any failure lands in <see cref="RemoteFailure"/>,
/// which renders a page and stores nothing.
/// </summary>
public sealed class ConnectEvents(
    TeslaAuthClient auth,
    TeslaIdentities identities,
    ConnectService connect,
    ConnectResultProtector results,
    Polling.PollSchedule schedule,
    IOptions<TeslaOptions> options,
    TimeProvider time,
    ILogger<ConnectEvents> logger) : OpenIdConnectEvents
{
    private readonly TeslaOptions _tesla = options.Value;

    /// <summary>
    /// Tesla documents no length; its examples and the simulator's codes are a region prefix and a few dozen characters.
    /// Generous on purpose, so a longer format from Tesla (a signed code, say) would still pass.
    /// </summary>
    internal const int MaxCodeLength = 2_048;

    public override Task RedirectToIdentityProvider(RedirectContext context)
    {
        var items = context.Properties.Items;
        var realm = RealmOf(items);
        context.ProtocolMessage.IssuerAddress = realm.AuthorizeEndpoint;
        context.ProtocolMessage.ClientId = realm.ClientId;
        // Kept in the protected state, so the callback can compare it with an id_token's nonce if one comes back.
        items[TeslaConnect.NonceItem] = context.ProtocolMessage.Nonce;
        items[TeslaConnect.IssuedItem] = time.GetUtcNow().ToUnixTimeSeconds().ToString();
        if (items.ContainsKey(TeslaConnect.MissingScopesItem))
        {
            context.ProtocolMessage.SetParameter("prompt_missing_scopes", "true");
        }
        context.ProtocolMessage.SetParameter("locale", "en-US");
        return Task.CompletedTask;
    }

    public override Task MessageReceived(MessageReceivedContext context)
    {
        // Kept for the failure page's retry link: a failure raised here loses the properties.
        if (context.Properties?.Items.TryGetValue(TeslaConnect.LinkTokenItem, out var token) == true)
        {
            context.HttpContext.Items[TeslaConnect.LinkTokenItem] = token;
        }
        // The correlation cookie expires with the browser session's clock; the state carries our own
        // issue time so an old callback is refused even where the cookie survived.
        if (context.Properties?.Items.TryGetValue(TeslaConnect.IssuedItem, out var issued) == true
            && long.TryParse(issued, out var seconds)
            && time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(seconds) > TimeSpan.FromMinutes(_tesla.ConnectStateLifetimeMinutes))
        {
            context.Fail(new ConnectException(ConnectFailure.StateExpired, "The connect attempt expired."));
        }
        return Task.CompletedTask;
    }

    public override async Task AuthorizationCodeReceived(AuthorizationCodeReceivedContext context)
    {
        var code = context.ProtocolMessage.Code ?? "";
        // Tesla's codes are a region prefix and a few dozen characters (TESLA.md §1.3). One far longer is not Tesla's:
        // refuse it here instead of spending a timed token-endpoint call (its rate limit is shared by every tenant's refreshes).
        if (code.Length > MaxCodeLength)
        {
            context.Fail(new ConnectException(ConnectFailure.CodeInvalid, "The authorization code is too long to be Tesla's."));
            return;
        }
        var props = context.Properties!;
        var ct = context.HttpContext.RequestAborted;
        var realm = RealmOf(props.Items);
        var audience = Audience(realm, code);
        var request = context.TokenEndpointRequest!;
        var tokens = await auth.ExchangeCodeAsync(realm, code, request.RedirectUri, request.GetParameter("code_verifier"), audience, ct);
        props.Items.TryGetValue(TeslaConnect.NonceItem, out var nonce);
        RemoveNonceCookie(context, nonce);
        var identity = await identities.ResolveAsync(realm, tokens, nonce, ct);

        var linkId = Guid.Parse(props.Items[TeslaConnect.LinkItem]!);
        var (account, previousScopes) = await connect.CompleteAsync(linkId, realm, identity, tokens, audience, ct);
        await schedule.PollSoonAsync(account.Id, ct);
        logger.LogInformation("Connect of account {AccountId} finished in the {Realm} realm, user named by the {Source}", account.Id, realm.Name, identity.Source);
        context.HandleResponse();
        context.Response.Redirect($"/connect/result?r={Uri.EscapeDataString(results.Protect(context.Response, account.Id, props.Items[TeslaConnect.LinkTokenItem]!, previousScopes))}");
    }

    /// <summary>The realm chosen at start, sealed in the state; a state from before realms existed is the global one.</summary>
    private TeslaRealm RealmOf(IDictionary<string, string?> items) =>
        _tesla.Realm(items.TryGetValue(TeslaConnect.RealmItem, out var name) && name is not null ? name : TeslaRealm.Global);

    /// <summary>
    /// The exchange must name a Fleet API host of the realm as <c>audience</c> (TESLA.md §1.4). Global codes carry the
    /// user's region as a prefix (NA_…, EU_…, TESLA.md §1.3); a prefix naming no region of this realm, or none at all
    /// (no China code was ever seen publicly), means the realm's default region. A prefix never picks the realm.
    /// </summary>
    private string Audience(TeslaRealm realm, string code)
    {
        var prefix = code.IndexOf('_') is > 0 and var i ? code[..i].ToLowerInvariant() : null;
        var region = prefix is not null && realm.Regions.Contains(prefix) ? prefix : realm.DefaultRegion;
        return _tesla.RegionBaseUrl(region)!;
    }

    /// <summary>The handler reads its nonce cookie only in its own id_token validation, which never runs here.</summary>
    private static void RemoveNonceCookie(AuthorizationCodeReceivedContext context, string? nonce)
    {
        var prefix = context.Options.NonceCookie.Name!;
        foreach (var name in context.Request.Cookies.Keys.Where(k => nonce is not null && k.StartsWith(prefix, StringComparison.Ordinal)))
        {
            if (context.Options.StringDataFormat.Unprotect(name[prefix.Length..]) == nonce)
            {
                context.Response.Cookies.Delete(name, context.Options.NonceCookie.Build(context.HttpContext));
            }
        }
    }

    public override async Task RemoteFailure(RemoteFailureContext context)
    {
        var failure = ConnectFailure.Classify(context.Failure);
        logger.LogWarning("Connect callback failed: {Reason} ({Detail})", failure.Reason, failure.LogDetail(context.Failure));
        context.HandleResponse();
        var linkToken = context.Properties?.Items.TryGetValue(TeslaConnect.LinkTokenItem, out var t) == true
            ? t
            : context.HttpContext.Items[TeslaConnect.LinkTokenItem] as string;
        await Hosting.BrowserPages.RenderAsync<Pages.ConnectErrorPage>(context.HttpContext, failure.HttpStatus, new()
        {
            [nameof(Pages.ConnectErrorPage.Failure)] = failure,
            // A link that is spent, revoked or expired cannot be tried again: offering it would only lead to the invalid-link page.
            [nameof(Pages.ConnectErrorPage.RetryUrl)] = linkToken is null || failure.Reason is "link_used" or "link_revoked" or "link_expired" ? null : $"/connect/{linkToken}",
        }, selfOnly: false);   // UseConnectPageHeaders set the connect policy: a retry posts on to Tesla
    }
}
