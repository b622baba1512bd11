using System.Security.Cryptography;
using System.Text;
using TeslaSimulator.State;

namespace TeslaSimulator.Auth;

/// <summary>A sign-in in progress, carried server-side by its id in a hidden form field (never in cookies).</summary>
internal sealed record PendingAuthorization(
    string Id, SimRealm Realm, SimClient Client, string RedirectUri, IReadOnlyList<string> Scopes, string? State, string? Nonce,
    string? CodeChallenge, string ChallengeMethod, bool PromptMissingScopes, bool RequireRequestedScopes,
    DateTimeOffset ExpiresAt)
{
    public SimAccount? Account { get; set; }
    public DateTimeOffset AuthTime { get; set; }
}

internal sealed record AuthCode(
    string Realm, string ClientId, string RedirectUri, SimAccount Account, IReadOnlyList<string> Scopes, string? State, string? Nonce,
    string? CodeChallenge, string ChallengeMethod, DateTimeOffset AuthTime, DateTimeOffset ExpiresAt)
{
    public bool Used { get; set; }
}

/// <summary>An opaque refresh token. Chain links the rotations that descend from one code exchange.</summary>
internal sealed class RefreshGrant(string realm, string clientId, SimAccount account, Guid chain, DateTimeOffset issuedAt, int consentEpoch, DateTimeOffset authTime)
{
    /// <summary>Only the auth server that minted it knows it.</summary>
    public string Realm { get; } = realm;
    public string ClientId { get; } = clientId;
    public SimAccount Account { get; } = account;
    public Guid Chain { get; } = chain;
    public DateTimeOffset IssuedAt { get; } = issuedAt;
    public int ConsentEpoch { get; } = consentEpoch;
    public int PasswordEpoch { get; } = account.PasswordEpoch;
    public DateTimeOffset AuthTime { get; } = authTime;
    public DateTimeOffset? FirstUsedAt { get; set; }
    public bool CycledOut { get; set; }
}

/// <summary>What the auth server remembers about an access token it minted (keyed by a hash, never the token).</summary>
internal sealed record IssuedAccessToken(string? Sub, string ClientId, int ConsentEpoch);

/// <summary>A credential the auth server handed out: kind is code, access_token, refresh_token or id_token.</summary>
internal sealed record IssuedSecret(string Kind, string Value, DateTimeOffset IssuedAt);

/// <summary>Codes, refresh tokens and access-token records. Callers hold <see cref="SimulatorState.Gate"/>.</summary>
internal sealed class AuthStore
{
    /// <summary>Newest issued credentials kept for <c>GET /_sim/issued</c>: tests search logs and dumps for them.</summary>
    public const int IssuedKept = 50_000;

    public Dictionary<string, PendingAuthorization> Pending { get; } = [];
    public Dictionary<string, AuthCode> Codes { get; } = [];
    public Dictionary<string, RefreshGrant> RefreshTokens { get; } = [];
    public Dictionary<Guid, RefreshGrant> MostRecentlyUsed { get; } = [];
    public Dictionary<string, IssuedAccessToken> AccessTokens { get; } = [];
    public Queue<IssuedSecret> Issued { get; } = new();

    /// <summary>Remembers a credential this server handed out (bounded, so a long benchmark does not grow without end).</summary>
    public void Record(string kind, string? value, DateTimeOffset now)
    {
        if (value is null) return;
        Issued.Enqueue(new IssuedSecret(kind, value, now));
        while (Issued.Count > IssuedKept) Issued.Dequeue();
    }

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static string RandomId(int bytes = 16) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>Using a refresh token cycles out the previously used one of the same chain (Tesla keeps only the most recent).</summary>
    public void MarkUsed(RefreshGrant grant, DateTimeOffset now)
    {
        grant.FirstUsedAt ??= now;
        if (MostRecentlyUsed.TryGetValue(grant.Chain, out var previous) && previous != grant) previous.CycledOut = true;
        MostRecentlyUsed[grant.Chain] = grant;
    }

    public void KillRefreshTokens(SimAccount account, string? clientId)
    {
        foreach (var grant in RefreshTokens.Values.Where(g => g.Account == account && (clientId is null || g.ClientId == clientId)))
            grant.CycledOut = true;
    }
}
