using System.Collections.Concurrent;
using VehicleCommand.Crypto;

namespace Broker.Commands;

/// <summary>
/// The session keys this node has agreed, by partner key and car domain key, so a command on a known session costs a
/// signature (~14 µs) rather than an ECDH with the partner key decrypted from the vault (~0.5 ms; bench/Commands).
/// Only in memory, like the partner key itself while it signs; Postgres keeps the public parts (<see cref="CommandSession"/>),
/// from which any replica agrees the key again. A new partner key has a new id, so old entries are never used again.
/// </summary>
public sealed class SessionKeyCache
{
    /// <summary>Cars × two domains a node keeps; past it the cache starts over (a handshake-free re-derive per car, not an outage).</summary>
    private const int Capacity = 50_000;

    private readonly ConcurrentDictionary<(Guid PartnerKeyId, string CarKey), SessionKey> _keys = new();

    public SessionKey? Get(Guid partnerKeyId, byte[] carPublicKey) => _keys.GetValueOrDefault((partnerKeyId, Convert.ToHexString(carPublicKey)));

    public SessionKey Add(Guid partnerKeyId, SessionKey key)
    {
        if (_keys.Count >= Capacity)
        {
            _keys.Clear();
        }
        _keys[(partnerKeyId, Convert.ToHexString(key.CarPublicKey))] = key;
        return key;
    }
}
