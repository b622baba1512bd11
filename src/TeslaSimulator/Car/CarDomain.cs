using System.Security.Cryptography;
using VehicleCommand.Crypto;
using VehicleCommand.Messages.UniversalMessage;

namespace TeslaSimulator.Car;

/// <summary>
/// One domain of a car (VCSEC or infotainment) as a verifier of the Vehicle Command Protocol: its own P-256 key pair,
/// its clock as (epoch, seconds since the epoch began), and per signer key the anti-replay state. protocol.md
/// "Domains" (separate keys and sessions) and "Time" (16 random bytes at boot, seconds since); the counter state follows
/// internal/authentication/verifier.go and window.go. Guarded by the simulator's state gate.
/// </summary>
internal sealed class CarDomain
{
    /// <summary>Infotainment accepts counters up to this far behind the highest one seen (window.go windowSize).</summary>
    public const int WindowSize = 32;

    /// <summary>
    /// A message with counter 0, or one arriving behind the highest counter, may have at most this many seconds left
    /// before it expires (crypto.go maxSecondsWithoutCounter; verifier.go verifySessionInfo).
    /// </summary>
    public const uint MaxSecondsWithoutCounter = 30;

    /// <summary>Expiry times past the epoch's length are refused as BAD_PARAMETER (crypto.go epochLength = 2^30 s).</summary>
    public const uint EpochLengthSeconds = 1u << 30;

    private readonly Dictionary<string, CounterWindow> _signers = new(StringComparer.Ordinal);

    public CarDomain(Domain domain, DateTimeOffset now)
    {
        Domain = domain;
        Key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        PublicKey = P256.Encode(Key.ExportParameters(false).Q);
        Reboot(now);
    }

    public Domain Domain { get; }

    /// <summary>The domain's private key; created with the car and kept across reboots (only the epoch changes).</summary>
    public ECDsa Key { get; }

    /// <summary>ENCODE_PUBLIC of the domain's key, as SessionInfo.publicKey carries it.</summary>
    public byte[] PublicKey { get; }

    public byte[] Epoch { get; private set; } = [];
    public DateTimeOffset EpochStart { get; private set; }

    /// <summary>Counter of the domain's encrypted answers; rises with every answer so none repeats for a request.</summary>
    public uint ResponseCounter { get; private set; }

    /// <summary>Whole seconds since the epoch began, on the simulator's clock.</summary>
    public uint Clock(DateTimeOffset now) => (uint)Math.Max(0, Math.Floor((now - EpochStart).TotalSeconds));

    /// <summary>A boot: a new random epoch, the clock restarts at zero and every signer's counter is forgotten (verifier.go rotateEpochIfNeeded).</summary>
    public void Reboot(DateTimeOffset now)
    {
        Epoch = RandomNumberGenerator.GetBytes(16);
        EpochStart = now;
        _signers.Clear();
    }

    /// <summary>The highest counter seen from this signer in this epoch (0 if none): what session info reports.</summary>
    public uint HighestCounter(byte[] signer) => _signers.TryGetValue(Convert.ToHexStringLower(signer), out var w) ? w.Highest : 0;

    /// <summary>
    /// Records <paramref name="counter"/> for the signer if it was never used: VCSEC wants counters in order (protocol.md
    /// "Metadata": "VCSEC requires that messages arrive in counter order"), infotainment keeps a sliding window of
    /// <see cref="WindowSize"/> (window.go updateSlidingWindow).
    /// </summary>
    public bool TryUseCounter(byte[] signer, uint counter)
    {
        var id = Convert.ToHexStringLower(signer);
        if (!_signers.TryGetValue(id, out var w)) _signers[id] = w = new CounterWindow();
        return Domain == Domain.VehicleSecurity ? w.TryAdvance(counter) : w.TryUpdate(counter);
    }

    public uint NextResponseCounter() => ++ResponseCounter;

    private sealed class CounterWindow
    {
        public uint Highest { get; private set; }
        private ulong _history; // bit i set: counter Highest - 1 - i was used

        public bool TryAdvance(uint counter)
        {
            if (counter <= Highest) return false;
            Highest = counter;
            return true;
        }

        public bool TryUpdate(uint counter)
        {
            if (counter == Highest) return false;
            if (counter < Highest)
            {
                var age = Highest - counter;
                if (age > WindowSize || ((_history >> (int)(age - 1)) & 1) == 1) return false;
                _history |= 1UL << (int)(age - 1);
                return true;
            }
            var shift = counter - Highest;
            _history = shift >= 64 ? 0 : _history << (int)shift;
            if (shift <= 64) _history |= 1UL << (int)(shift - 1);
            Highest = counter;
            return true;
        }
    }
}
