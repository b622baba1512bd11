using Broker.Tesla;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Broker.Connect;

/// <summary>
/// Hooks of the Tesla OpenID Connect scheme. Order on the callback: message received (state and
/// correlation checked by the handler, expiry by us) → code received (we redeem it at the
/// fleet-auth token host with <c>audience</c>) → id_token validated (nonce, signature, issuer) →
/// we store the account and redirect to the result page. Any failure lands in
/// <see cref="RemoteFailure"/>, which renders a page and stores nothing.
/// </summary>
public sealed class ConnectEvents(
    TeslaAuthClient auth,
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
        context.Properties.Items[TeslaConnect.IssuedItem] = time.GetUtcNow().ToUnixTimeSeconds().ToString();
        if (context.Properties.Items.ContainsKey(TeslaConnect.MissingScopesItem))
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
        // Fleet auth codes carry the user's region as a prefix (NA_…, EU_…); the exchange must name
        // that region's Fleet API as `audience` (TESLA.md §1.3-1.4).
        var region = code.IndexOf('_') is > 0 and var i ? code[..i].ToLowerInvariant() : "na";
        var audience = _tesla.RegionBaseUrl(region) ?? _tesla.RegionBaseUrl("na")!;
        var request = context.TokenEndpointRequest!;
        var tokens = await auth.ExchangeCodeAsync(code, request.RedirectUri, request.GetParameter("code_verifier"), audience, context.HttpContext.RequestAborted);
        context.HttpContext.Items[typeof(TeslaTokenResponse)] = (tokens, audience);
        context.HandleCodeRedemption(tokens.AccessToken, tokens.IdToken ?? "");
    }

    public override async Task TokenValidated(TokenValidatedContext context)
    {
        var (tokens, audience) = ((TeslaTokenResponse, string))context.HttpContext.Items[typeof(TeslaTokenResponse)]!;
        var props = context.Properties!;
        var subject = Hosting.TextInput.Clean(context.Principal?.FindFirst("sub")?.Value)
            ?? throw new ConnectException(ConnectFailure.TeslaRefused, "Tesla's id_token has no subject.");
        var email = Hosting.TextInput.Clean(context.Principal?.FindFirst("email")?.Value);
        var linkId = Guid.Parse(props.Items[TeslaConnect.LinkItem]!);
        var linkToken = props.Items[TeslaConnect.LinkTokenItem]!;

        var account = await connect.CompleteAsync(linkId, subject, email, tokens, audience, context.HttpContext.RequestAborted);
        await schedule.PollSoonAsync(account.Id, context.HttpContext.RequestAborted);
        context.HandleResponse();
        context.Response.Redirect($"/connect/result?r={Uri.EscapeDataString(results.Protect(account.Id, linkToken))}");
    }

    public override async Task RemoteFailure(RemoteFailureContext context)
    {
        var failure = ConnectFailure.Classify(context.Failure);
        logger.LogWarning("Connect callback failed: {Reason} ({Detail})", failure.Reason, failure.LogDetail(context.Failure));
        context.HandleResponse();
        var linkToken = context.Properties?.Items.TryGetValue(TeslaConnect.LinkTokenItem, out var t) == true
            ? t
            : context.HttpContext.Items[TeslaConnect.LinkTokenItem] as string;
        await ConnectPages.RenderAsync<Pages.ConnectErrorPage>(context.HttpContext, failure.HttpStatus, new()
        {
            [nameof(Pages.ConnectErrorPage.Failure)] = failure,
            [nameof(Pages.ConnectErrorPage.RetryUrl)] = linkToken is null ? null : $"/connect/{linkToken}",
        });
    }
}
