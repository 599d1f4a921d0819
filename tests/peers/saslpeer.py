#!/usr/bin/env python3
"""saslpeer.py -- a scripted POP3 or IMAP server that checks a client's
SASL exchange on its own (independently of the client's code).

Test-only tool, Python 3 stdlib only.  One protocol per run, on
127.0.0.1 and a kernel-chosen port; connections are served one after
the other, and the mailbox, the OTP sequence and the counters persist
across them for the life of the process.

Usage
-----
    saslpeer.py serve --proto pop3|imap --dir DIR [options]
    saslpeer.py selftest

`serve` writes to DIR:
    port        the port number, written atomically once listening
    peer.log    every line received ("N C: ..."; for a line that is
                base64 also "N D: ..." with the decoded bytes, escaped),
                every line sent ("N S: ...") and events ("N EV: ..."):
                  AUTH-START MECH, AUTH-OK MECH, AUTH-FAIL MECH REASON,
                  CANCEL MECH, CLEARTEXT USER|PASS|LOGIN (a password
                  sent in clear), RETR N, DELE N, COMMIT N, CLOSE
    state       "conns N\\nmessages N\\nretrieved N\\ncommitted N\\n"
                "otp_seq N\\nauth_ok N\\nauth_fail N\\ncancels N\\n"
                "mechs M1,M2,...\\n" rewritten after every connection
                (wait for "conns N" before reading the rest)

Options:
    --user U --password P   the account (NTLM: U is the user name the
                            Type 3 message must carry, case-insensitive)
    --mechs "NTLM CRAM-MD5" advertised mechanisms (CAPA SASL / AUTH=)
    --sasl-ir               IMAP: advertise SASL-IR
    --ntlm-domain D         the domain the Type 3 message must name
                            (default: the target name TESTDOM)
    --otp-pass PHRASE --otp-seq N --otp-seed SEED
                            OTP (otp-md5): the server stores the OTP of
                            N+1 iterations, challenges with N, verifies
                            hash(response) == stored, then N -= 1
    --refuse MECH           always refuse MECH (after a full exchange)
    --messages N            messages in the mailbox (default 1)
    --ok-after-cancel       answer the client's "*" with +OK / OK (a
                            lying server: the client must not go on)
    --scenario S            ok (default); scram-badv (wrong v=),
                            scram-nov (success without v=), b64 (the
                            first non-empty challenge is not base64),
                            scram-nonce (r= does not extend the client
                            nonce), scram-i0, scram-ihuge (i=0 and
                            i=99999999999), ntlm-badoff (Type 2 target
                            info offset out of range), ntlm-badname
                            (target name length past the end),
                            otp-badalg (otp-rot13)
    --parent-pid PID        exit when PID is gone

Mechanisms checked here: NTLM (NTLMv2, MS-NLMP 3.3.2), OTP (RFC 2444 /
2289, otp-md5, six words or hex), SCRAM-SHA-1 and SCRAM-SHA-256 (RFC
5802 / 7677), CRAM-MD5 (RFC 2195); USER/PASS and LOGIN are accepted but
logged as CLEARTEXT.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import sys

import peerline
from peerline import Closed, LinePeer
import time

OTP_WORDS = """
A ABE ACE ACT AD ADA ADD AGO AID AIM AIR ALL ALP AM AMY AN ANA AND ANN ANT
ANY APE APS APT ARC ARE ARK ARM ART AS ASH ASK AT ATE AUG AUK AVE AWE AWK
AWL AWN AX AYE BAD BAG BAH BAM BAN BAR BAT BAY BE BED BEE BEG BEN BET BEY
BIB BID BIG BIN BIT BOB BOG BON BOO BOP BOW BOY BUB BUD BUG BUM BUN BUS
BUT BUY BY BYE CAB CAL CAM CAN CAP CAR CAT CAW COD COG COL CON COO COP COT
COW COY CRY CUB CUE CUP CUR CUT DAB DAD DAM DAN DAR DAY DEE DEL DEN DES
DEW DID DIE DIG DIN DIP DO DOE DOG DON DOT DOW DRY DUB DUD DUE DUG DUN EAR
EAT ED EEL EGG EGO ELI ELK ELM ELY EM END EST ETC EVA EVE EWE EYE FAD FAN
FAR FAT FAY FED FEE FEW FIB FIG FIN FIR FIT FLO FLY FOE FOG FOR FRY FUM
FUN FUR GAB GAD GAG GAL GAM GAP GAS GAY GEE GEL GEM GET GIG GIL GIN GO GOT
GUM GUN GUS GUT GUY GYM GYP HA HAD HAL HAM HAN HAP HAS HAT HAW HAY HE HEM
HEN HER HEW HEY HI HID HIM HIP HIS HIT HO HOB HOC HOE HOG HOP HOT HOW HUB
HUE HUG HUH HUM HUT I ICY IDA IF IKE ILL INK INN IO ION IQ IRA IRE IRK IS
IT ITS IVY JAB JAG JAM JAN JAR JAW JAY JET JIG JIM JO JOB JOE JOG JOT JOY
JUG JUT KAY KEG KEN KEY KID KIM KIN KIT LA LAB LAC LAD LAG LAM LAP LAW LAY
LEA LED LEE LEG LEN LEO LET LEW LID LIE LIN LIP LIT LO LOB LOG LOP LOS LOT
LOU LOW LOY LUG LYE MA MAC MAD MAE MAN MAO MAP MAT MAW MAY ME MEG MEL MEN
MET MEW MID MIN MIT MOB MOD MOE MOO MOP MOS MOT MOW MUD MUG MUM MY NAB NAG
NAN NAP NAT NAY NE NED NEE NET NEW NIB NIL NIP NIT NO NOB NOD NON NOR NOT
NOV NOW NU NUN NUT O OAF OAK OAR OAT ODD ODE OF OFF OFT OH OIL OK OLD ON
ONE OR ORB ORE ORR OS OTT OUR OUT OVA OW OWE OWL OWN OX PA PAD PAL PAM PAN
PAP PAR PAT PAW PAY PEA PEG PEN PEP PER PET PEW PHI PI PIE PIN PIT PLY PO
POD POE POP POT POW PRO PRY PUB PUG PUN PUP PUT QUO RAG RAM RAN RAP RAT
RAW RAY REB RED REP RET RIB RID RIG RIM RIO RIP ROB ROD ROE RON ROT ROW
ROY RUB RUE RUG RUM RUN RYE SAC SAD SAG SAL SAM SAN SAP SAT SAW SAY SEA
SEC SEE SEN SET SEW SHE SHY SIN SIP SIR SIS SIT SKI SKY SLY SO SOB SOD SON
SOP SOW SOY SPA SPY SUB SUD SUE SUM SUN SUP TAB TAD TAG TAN TAP TAR TEA
TED TEE TEN THE THY TIC TIE TIM TIN TIP TO TOE TOG TOM TON TOO TOP TOW TOY
TRY TUB TUG TUM TUN TWO UN UP US USE VAN VAT VET VIE WAD WAG WAR WAS WAY
WE WEB WED WEE WET WHO WHY WIN WIT WOK WON WOO WOW WRY WU YAM YAP YAW YE
YEA YES YET YOU ABED ABEL ABET ABLE ABUT ACHE ACID ACME ACRE ACTA ACTS
ADAM ADDS ADEN AFAR AFRO AGEE AHEM AHOY AIDA AIDE AIDS AIRY AJAR AKIN ALAN
ALEC ALGA ALIA ALLY ALMA ALOE ALSO ALTO ALUM ALVA AMEN AMES AMID AMMO AMOK
AMOS AMRA ANDY ANEW ANNA ANNE ANTE ANTI AQUA ARAB ARCH AREA ARGO ARID ARMY
ARTS ARTY ASIA ASKS ATOM AUNT AURA AUTO AVER AVID AVIS AVON AVOW AWAY AWRY
BABE BABY BACH BACK BADE BAIL BAIT BAKE BALD BALE BALI BALK BALL BALM BAND
BANE BANG BANK BARB BARD BARE BARK BARN BARR BASE BASH BASK BASS BATE BATH
BAWD BAWL BEAD BEAK BEAM BEAN BEAR BEAT BEAU BECK BEEF BEEN BEER BEET BELA
BELL BELT BEND BENT BERG BERN BERT BESS BEST BETA BETH BHOY BIAS BIDE BIEN
BILE BILK BILL BIND BING BIRD BITE BITS BLAB BLAT BLED BLEW BLOB BLOC BLOT
BLOW BLUE BLUM BLUR BOAR BOAT BOCA BOCK BODE BODY BOGY BOHR BOIL BOLD BOLO
BOLT BOMB BONA BOND BONE BONG BONN BONY BOOK BOOM BOON BOOT BORE BORG BORN
BOSE BOSS BOTH BOUT BOWL BOYD BRAD BRAE BRAG BRAN BRAY BRED BREW BRIG BRIM
BROW BUCK BUDD BUFF BULB BULK BULL BUNK BUNT BUOY BURG BURL BURN BURR BURT
BURY BUSH BUSS BUST BUSY BYTE CADY CAFE CAGE CAIN CAKE CALF CALL CALM CAME
CANE CANT CARD CARE CARL CARR CART CASE CASH CASK CAST CAVE CEIL CELL CENT
CERN CHAD CHAR CHAT CHAW CHEF CHEN CHEW CHIC CHIN CHOU CHOW CHUB CHUG CHUM
CITE CITY CLAD CLAM CLAN CLAW CLAY CLOD CLOG CLOT CLUB CLUE COAL COAT COCA
COCK COCO CODA CODE CODY COED COIL COIN COKE COLA COLD COLT COMA COMB COME
COOK COOL COON COOT CORD CORE CORK CORN COST COVE COWL CRAB CRAG CRAM CRAY
CREW CRIB CROW CRUD CUBA CUBE CUFF CULL CULT CUNY CURB CURD CURE CURL CURT
CUTS DADE DALE DAME DANA DANE DANG DANK DARE DARK DARN DART DASH DATA DATE
DAVE DAVY DAWN DAYS DEAD DEAF DEAL DEAN DEAR DEBT DECK DEED DEEM DEER DEFT
DEFY DELL DENT DENY DESK DIAL DICE DIED DIET DIME DINE DING DINT DIRE DIRT
DISC DISH DISK DIVE DOCK DOES DOLE DOLL DOLT DOME DONE DOOM DOOR DORA DOSE
DOTE DOUG DOUR DOVE DOWN DRAB DRAG DRAM DRAW DREW DRUB DRUG DRUM DUAL DUCK
DUCT DUEL DUET DUKE DULL DUMB DUNE DUNK DUSK DUST DUTY EACH EARL EARN EASE
EAST EASY EBEN ECHO EDDY EDEN EDGE EDGY EDIT EDNA EGAN ELAN ELBA ELLA ELSE
EMIL EMIT EMMA ENDS ERIC EROS EVEN EVER EVIL EYED FACE FACT FADE FAIL FAIN
FAIR FAKE FALL FAME FANG FARM FAST FATE FAWN FEAR FEAT FEED FEEL FEET FELL
FELT FEND FERN FEST FEUD FIEF FIGS FILE FILL FILM FIND FINE FINK FIRE FIRM
FISH FISK FIST FITS FIVE FLAG FLAK FLAM FLAT FLAW FLEA FLED FLEW FLIT FLOC
FLOG FLOW FLUB FLUE FOAL FOAM FOGY FOIL FOLD FOLK FOND FONT FOOD FOOL FOOT
FORD FORE FORK FORM FORT FOSS FOUL FOUR FOWL FRAU FRAY FRED FREE FRET FREY
FROG FROM FUEL FULL FUME FUND FUNK FURY FUSE FUSS GAFF GAGE GAIL GAIN GAIT
GALA GALE GALL GALT GAME GANG GARB GARY GASH GATE GAUL GAUR GAVE GAWK GEAR
GELD GENE GENT GERM GETS GIBE GIFT GILD GILL GILT GINA GIRD GIRL GIST GIVE
GLAD GLEE GLEN GLIB GLOB GLOM GLOW GLUE GLUM GLUT GOAD GOAL GOAT GOER GOES
GOLD GOLF GONE GONG GOOD GOOF GORE GORY GOSH GOUT GOWN GRAB GRAD GRAY GREG
GREW GREY GRID GRIM GRIN GRIT GROW GRUB GULF GULL GUNK GURU GUSH GUST GWEN
GWYN HAAG HAAS HACK HAIL HAIR HALE HALF HALL HALO HALT HAND HANG HANK HANS
HARD HARK HARM HART HASH HAST HATE HATH HAUL HAVE HAWK HAYS HEAD HEAL HEAR
HEAT HEBE HECK HEED HEEL HEFT HELD HELL HELM HERB HERD HERE HERO HERS HESS
HEWN HICK HIDE HIGH HIKE HILL HILT HIND HINT HIRE HISS HIVE HOBO HOCK HOFF
HOLD HOLE HOLM HOLT HOME HONE HONK HOOD HOOF HOOK HOOT HORN HOSE HOST HOUR
HOVE HOWE HOWL HOYT HUCK HUED HUFF HUGE HUGH HUGO HULK HULL HUNK HUNT HURD
HURL HURT HUSH HYDE HYMN IBIS ICON IDEA IDLE IFFY INCA INCH INTO IONS IOTA
IOWA IRIS IRMA IRON ISLE ITCH ITEM IVAN JACK JADE JAIL JAKE JANE JAVA JEAN
JEFF JERK JESS JEST JIBE JILL JILT JIVE JOAN JOBS JOCK JOEL JOEY JOHN JOIN
JOKE JOLT JOVE JUDD JUDE JUDO JUDY JUJU JUKE JULY JUNE JUNK JUNO JURY JUST
JUTE KAHN KALE KANE KANT KARL KATE KEEL KEEN KENO KENT KERN KERR KEYS KICK
KILL KIND KING KIRK KISS KITE KLAN KNEE KNEW KNIT KNOB KNOT KNOW KOCH KONG
KUDO KURD KURT KYLE LACE LACK LACY LADY LAID LAIN LAIR LAKE LAMB LAME LAND
LANE LANG LARD LARK LASS LAST LATE LAUD LAVA LAWN LAWS LAYS LEAD LEAF LEAK
LEAN LEAR LEEK LEER LEFT LEND LENS LENT LEON LESK LESS LEST LETS LIAR LICE
LICK LIED LIEN LIES LIEU LIFE LIFT LIKE LILA LILT LILY LIMA LIMB LIME LIND
LINE LINK LINT LION LISA LIST LIVE LOAD LOAF LOAM LOAN LOCK LOFT LOGE LOIS
LOLA LONE LONG LOOK LOON LOOT LORD LORE LOSE LOSS LOST LOUD LOVE LOWE LUCK
LUCY LUGE LUKE LULU LUND LUNG LURA LURE LURK LUSH LUST LYLE LYNN LYON LYRA
MACE MADE MAGI MAID MAIL MAIN MAKE MALE MALI MALL MALT MANA MANN MANY MARC
MARE MARK MARS MART MARY MASH MASK MASS MAST MATE MATH MAUL MAYO MEAD MEAL
MEAN MEAT MEEK MEET MELD MELT MEMO MEND MENU MERT MESH MESS MICE MIKE MILD
MILE MILK MILL MILT MIMI MIND MINE MINI MINK MINT MIRE MISS MIST MITE MITT
MOAN MOAT MOCK MODE MOLD MOLE MOLL MOLT MONA MONK MONT MOOD MOON MOOR MOOT
MORE MORN MORT MOSS MOST MOTH MOVE MUCH MUCK MUDD MUFF MULE MULL MURK MUSH
MUST MUTE MUTT MYRA MYTH NAGY NAIL NAIR NAME NARY NASH NAVE NAVY NEAL NEAR
NEAT NECK NEED NEIL NELL NEON NERO NESS NEST NEWS NEWT NIBS NICE NICK NILE
NINA NINE NOAH NODE NOEL NOLL NONE NOOK NOON NORM NOSE NOTE NOUN NOVA NUDE
NULL NUMB OATH OBEY OBOE ODIN OHIO OILY OINT OKAY OLAF OLDY OLGA OLIN OMAN
OMEN OMIT ONCE ONES ONLY ONTO ONUS ORAL ORGY OSLO OTIS OTTO OUCH OUST OUTS
OVAL OVEN OVER OWLY OWNS QUAD QUIT QUOD RACE RACK RACY RAFT RAGE RAID RAIL
RAIN RAKE RANK RANT RARE RASH RATE RAVE RAYS READ REAL REAM REAR RECK REED
REEF REEK REEL REID REIN RENA REND RENT REST RICE RICH RICK RIDE RIFT RILL
RIME RING RINK RISE RISK RITE ROAD ROAM ROAR ROBE ROCK RODE ROIL ROLL ROME
ROOD ROOF ROOK ROOM ROOT ROSA ROSE ROSS ROSY ROTH ROUT ROVE ROWE ROWS RUBE
RUBY RUDE RUDY RUIN RULE RUNG RUNS RUNT RUSE RUSH RUSK RUSS RUST RUTH SACK
SAFE SAGE SAID SAIL SALE SALK SALT SAME SAND SANE SANG SANK SARA SAUL SAVE
SAYS SCAN SCAR SCAT SCOT SEAL SEAM SEAR SEAT SEED SEEK SEEM SEEN SEES SELF
SELL SEND SENT SETS SEWN SHAG SHAM SHAW SHAY SHED SHIM SHIN SHOD SHOE SHOT
SHOW SHUN SHUT SICK SIDE SIFT SIGH SIGN SILK SILL SILO SILT SINE SING SINK
SIRE SITE SITS SITU SKAT SKEW SKID SKIM SKIN SKIT SLAB SLAM SLAT SLAY SLED
SLEW SLID SLIM SLIT SLOB SLOG SLOT SLOW SLUG SLUM SLUR SMOG SMUG SNAG SNOB
SNOW SNUB SNUG SOAK SOAR SOCK SODA SOFA SOFT SOIL SOLD SOME SONG SOON SOOT
SORE SORT SOUL SOUR SOWN STAB STAG STAN STAR STAY STEM STEW STIR STOW STUB
STUN SUCH SUDS SUIT SULK SUMS SUNG SUNK SURE SURF SWAB SWAG SWAM SWAN SWAT
SWAY SWIM SWUM TACK TACT TAIL TAKE TALE TALK TALL TANK TASK TATE TAUT TEAL
TEAM TEAR TECH TEEM TEEN TEET TELL TEND TENT TERM TERN TESS TEST THAN THAT
THEE THEM THEN THEY THIN THIS THUD THUG TICK TIDE TIDY TIED TIER TILE TILL
TILT TIME TINA TINE TINT TINY TIRE TOAD TOGO TOIL TOLD TOLL TONE TONG TONY
TOOK TOOL TOOT TORE TORN TOTE TOUR TOUT TOWN TRAG TRAM TRAY TREE TREK TRIG
TRIM TRIO TROD TROT TROY TRUE TUBA TUBE TUCK TUFT TUNA TUNE TUNG TURF TURN
TUSK TWIG TWIN TWIT ULAN UNIT URGE USED USER USES UTAH VAIL VAIN VALE VARY
VASE VAST VEAL VEDA VEIL VEIN VEND VENT VERB VERY VETO VICE VIEW VINE VISE
VOID VOLT VOTE WACK WADE WAGE WAIL WAIT WAKE WALE WALK WALL WALT WAND WANE
WANG WANT WARD WARM WARN WART WASH WAST WATS WATT WAVE WAVY WAYS WEAK WEAL
WEAN WEAR WEED WEEK WEIR WELD WELL WELT WENT WERE WERT WEST WHAM WHAT WHEE
WHEN WHET WHOA WHOM WICK WIFE WILD WILL WIND WINE WING WINK WINO WIRE WISE
WISH WITH WOLF WONT WOOD WOOL WORD WORE WORK WORM WORN WOVE WRIT WYNN YALE
YANG YANK YARD YARN YAWL YAWN YEAH YEAR YELL YOGA YOKE
""".split()


# ------------------------------------------------------------ MD4 (RFC 1320)
# hashlib's md4 is gone under OpenSSL 3 without the legacy provider.

def _rol(v, s):
    v &= 0xffffffff
    return ((v << s) | (v >> (32 - s))) & 0xffffffff


def md4(data):
    data = bytes(data)
    n = len(data)
    data += b"\x80" + b"\x00" * ((55 - n) % 64) + struct.pack("<Q", n * 8)
    h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]
    rounds = (
        (lambda x, y, z: (x & y) | (~x & z), 0,
         range(16), (3, 7, 11, 19)),
        (lambda x, y, z: (x & y) | (x & z) | (y & z), 0x5a827999,
         (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15),
         (3, 5, 9, 13)),
        (lambda x, y, z: x ^ y ^ z, 0x6ed9eba1,
         (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15),
         (3, 9, 11, 15)),
    )
    for off in range(0, len(data), 64):
        x = struct.unpack("<16I", data[off:off + 64])
        r = list(h)
        for f, k, order, shifts in rounds:
            for i, w in enumerate(order):
                t = (4 - i % 4) % 4          # A, D, C, B, A, ...
                a, b, c, d = r[t], r[(t + 1) % 4], r[(t + 2) % 4], \
                    r[(t + 3) % 4]
                r[t] = _rol(a + f(b, c, d) + x[w] + k, shifts[i % 4])
        h = [(h[i] + r[i]) & 0xffffffff for i in range(4)]
    return struct.pack("<4I", *h)


# ------------------------------------------------------------ OTP (RFC 2289)

def otp_fold_md5(data):
    d = hashlib.md5(data).digest()
    return bytes(a ^ b for a, b in zip(d[:8], d[8:]))


def otp_md5(passphrase, seed, count):
    """The one-time password after COUNT iterations (count 0 is the
    folded hash of seed+passphrase)."""
    k = otp_fold_md5(seed.lower().encode() + passphrase.encode())
    for _ in range(count):
        k = otp_fold_md5(k)
    return k


def _parity(v64):
    p = 0
    for i in range(0, 64, 2):
        p += (v64 >> i) & 3
    return p & 3


def otp_to_words(key):
    v = int.from_bytes(key, "big")
    v = (v << 2) | _parity(v)
    return " ".join(OTP_WORDS[(v >> (55 - 11 * i)) & 0x7ff]
                    for i in range(6))


_WORD_INDEX = {w: i for i, w in enumerate(OTP_WORDS)}


def otp_from_words(text):
    """64 bits from six dictionary words (with the checksum), or None."""
    ws = text.upper().split()
    if len(ws) != 6 or any(w not in _WORD_INDEX for w in ws):
        return None
    v = 0
    for w in ws:
        v = (v << 11) | _WORD_INDEX[w]
    key, par = v >> 2, v & 3
    if _parity(key) != par:
        return None
    return key.to_bytes(8, "big")


def otp_from_hex(text):
    h = re.sub(r"\s", "", text)
    if not re.fullmatch(r"[0-9A-Fa-f]{16}", h):
        return None
    return bytes.fromhex(h)


# ------------------------------------------------------------ NTLM

NTLM_UNICODE = 0x00000001
NTLM_REQUEST_TARGET = 0x00000004
NTLM_NTLM = 0x00000200
NTLM_ALWAYS_SIGN = 0x00008000
NTLM_TARGET_TYPE_DOMAIN = 0x00010000
NTLM_ESS = 0x00080000
NTLM_TARGET_INFO = 0x00800000
NTLM_VERSION = 0x02000000
NTLM_TARGET = "TESTDOM"
NTLM_SERVER_CHALLENGE = bytes.fromhex("0123456789abcdef")
NTLM_TIMESTAMP = struct.pack("<Q", (1700000000 + 11644473600) * 10000000)


def ntowfv2(user, domain, password):
    nt = md4(password.encode("utf-16-le"))
    return hmac.new(nt, (user.upper() + domain).encode("utf-16-le"),
                    hashlib.md5).digest()


def av_pairs(pairs):
    out = b""
    for aid, val in pairs:
        out += struct.pack("<HH", aid, len(val)) + val
    return out + struct.pack("<HH", 0, 0)


def ntlm_type2(scenario):
    tname = NTLM_TARGET.encode("utf-16-le")
    tinfo = av_pairs([
        (2, NTLM_TARGET.encode("utf-16-le")),
        (1, b"S\0E\0R\0V\0E\0R\0"),
        (4, "testdom.example".encode("utf-16-le")),
        (3, "server.testdom.example".encode("utf-16-le")),
        (7, NTLM_TIMESTAMP)])
    flags = (NTLM_UNICODE | NTLM_REQUEST_TARGET | NTLM_NTLM |
             NTLM_ALWAYS_SIGN | NTLM_TARGET_TYPE_DOMAIN | NTLM_ESS |
             NTLM_TARGET_INFO | NTLM_VERSION)
    off_name = 56
    off_info = off_name + len(tname)
    name_len, info_off = len(tname), off_info
    if scenario == "ntlm-badoff":
        info_off = 0xfffffff0           # far past the end
    if scenario == "ntlm-badname":
        name_len = 0x4000               # runs past the message
    msg = b"NTLMSSP\0" + struct.pack("<I", 2)
    msg += struct.pack("<HHI", name_len, name_len, off_name)
    msg += struct.pack("<I", flags) + NTLM_SERVER_CHALLENGE + b"\0" * 8
    msg += struct.pack("<HHI", len(tinfo), len(tinfo), info_off)
    msg += bytes([10, 0, 0x61, 0x4a, 0, 0, 0, 15])       # version
    assert len(msg) == off_name
    return msg + tname + tinfo


def _secbuf(m, pos):
    ln, _mx, off = struct.unpack("<HHI", m[pos:pos + 8])
    if off + ln > len(m):
        raise ValueError("security buffer at %d out of range" % pos)
    return m[off:off + ln]


def ntlm_check_type3(m, user, password, domain_expected, log):
    """Verify an AUTHENTICATE_MESSAGE; None if good, else the reason."""
    if len(m) < 64 or m[:8] != b"NTLMSSP\0" or \
            struct.unpack("<I", m[8:12])[0] != 3:
        return "not an NTLM type 3 message"
    try:
        lm = _secbuf(m, 12)
        nt = _secbuf(m, 20)
        dom = _secbuf(m, 28)
        usr = _secbuf(m, 36)
    except ValueError as e:
        return str(e)
    flags = struct.unpack("<I", m[60:64])[0]
    enc = "utf-16-le" if flags & NTLM_UNICODE else "latin-1"
    try:
        dom_s, usr_s = dom.decode(enc), usr.decode(enc)
    except UnicodeDecodeError:
        return "undecodable user or domain"
    log("NTLM type3 user=%r domain=%r ntlen=%d lmlen=%d flags=%08x" % (
        usr_s, dom_s, len(nt), len(lm), flags))
    if usr_s.upper() != user.upper():
        return "user %r, expected %r" % (usr_s, user)
    if dom_s != domain_expected:
        return "domain %r, expected %r" % (dom_s, domain_expected)
    if len(nt) < 16 + 28:
        return "NTLMv2 response too short"
    proof, blob = nt[:16], nt[16:]
    if blob[:2] != b"\x01\x01":
        return "not an NTLMv2 blob"
    if blob[8:16] != NTLM_TIMESTAMP:
        return "blob timestamp is not the server's MsvAvTimestamp"
    # the server sent MsvAvTimestamp: the LMv2 response must be Z(24)
    if lm not in (b"", b"\0" * 24):
        return "LMv2 response not zero although MsvAvTimestamp was sent"
    key = ntowfv2(user, dom_s, password)
    want = hmac.new(key, NTLM_SERVER_CHALLENGE + blob, hashlib.md5).digest()
    if not hmac.compare_digest(want, proof):
        return "NTProofStr mismatch"
    return None


# ------------------------------------------------------------ SCRAM

def scram_keys(hname, password, salt, iters):
    sp = hashlib.pbkdf2_hmac(hname, password.encode(), salt, iters)
    ck = hmac.new(sp, b"Client Key", hname).digest()
    sk = hmac.new(sp, b"Server Key", hname).digest()
    return ck, hashlib.new(hname, ck).digest(), sk


def scram_attrs(s):
    out = []
    for part in s.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ValueError("bad attribute %r" % part)
        out.append((part[0], part[2:]))
    return out


# ------------------------------------------------------------ mechanisms
# A mechanism answers ("chal", BYTES) to send a challenge, ("raw", STR) to
# send STR as the challenge text as is, ("ok", None) or ("fail", REASON).

class Mech:
    def __init__(self, peer, name):
        self.p, self.name = peer, name

    def log(self, text):
        self.p.ev(text)


class CramMD5(Mech):
    def first(self, ir):
        self.ts = "<%d.%d@saslpeer.example>" % (os.getpid(), time.time())
        return "chal", self.ts.encode()

    def step(self, data):
        try:
            user, digest = data.decode().rsplit(" ", 1)
        except ValueError:
            return "fail", "malformed CRAM-MD5 response"
        want = hmac.new(self.p.a.password.encode(), self.ts.encode(),
                        hashlib.md5).hexdigest()
        if user != self.p.a.user or not hmac.compare_digest(want, digest):
            return "fail", "CRAM-MD5 digest mismatch"
        return "ok", None


class Ntlm(Mech):
    stage = 0

    def first(self, ir):
        if ir:
            return self.step(ir)
        return "chal", b""

    def step(self, data):
        if self.stage == 0:
            if data[:8] != b"NTLMSSP\0" or data[8:12] != b"\1\0\0\0":
                return "fail", "expected an NTLM type 1 message"
            self.stage = 1
            return "chal", ntlm_type2(self.p.a.scenario)
        why = ntlm_check_type3(data, self.p.a.user, self.p.a.password,
                               self.p.a.ntlm_domain or NTLM_TARGET, self.log)
        return ("fail", why) if why else ("ok", None)


class Otp(Mech):
    user = None

    def first(self, ir):
        if ir is None or ir == b"":
            return "chal", b""
        return self.challenge(ir)

    def challenge(self, data):
        authzid, sep, user = data.partition(b"\0")
        if not sep or user.decode("latin-1") != self.p.a.user:
            return "fail", "OTP initial response %r is not "\
                "authzid NUL %s" % (data, self.p.a.user)
        self.user = user
        if self.p.a.scenario == "otp-badalg":
            return "chal", b"otp-rot13 %d %s ext" % (
                self.p.otp_seq, self.p.a.otp_seed.encode())
        return "chal", b"otp-md5 %d %s ext" % (
            self.p.otp_seq, self.p.a.otp_seed.encode())

    def step(self, data):
        if self.user is None:
            return self.challenge(data)
        s = data.decode("latin-1")
        kind, sep, val = s.partition(":")
        if not sep:
            return "fail", "OTP response without word: or hex:"
        kind = kind.lower()
        if kind == "word":
            k = otp_from_words(val)
        elif kind == "hex":
            k = otp_from_hex(val)
        else:
            return "fail", "OTP response type %r not supported" % kind
        if k is None:
            return "fail", "OTP response does not decode (%s)" % kind
        if otp_fold_md5(k) != self.p.otp_stored:
            return "fail", "OTP mismatch"
        self.log("OTP accepted seq %d (%s)" % (self.p.otp_seq, kind))
        self.p.otp_stored = k
        self.p.otp_seq -= 1
        return "ok", None


class Scram(Mech):
    stage = 0

    def __init__(self, peer, name):
        Mech.__init__(self, peer, name)
        self.h = "sha256" if name.endswith("256") else "sha1"

    def first(self, ir):
        if ir is None or ir == b"":
            return "chal", b""
        return self.step(ir)

    def step(self, data):
        sc = self.p.a.scenario
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError:
            return "fail", "SCRAM message not UTF-8"
        if self.stage == 0:
            m = re.match(r"([ny]|p=[^,]*),(a=[^,]*)?,(.*)$", s, re.S)
            if not m or m.group(1).startswith("p"):
                return "fail", "bad GS2 header in %r" % s
            self.gs2 = s[:m.start(3)]
            self.bare = m.group(3)
            try:
                at = dict(scram_attrs(self.bare))
            except ValueError as e:
                return "fail", str(e)
            if at.get("n") != self.p.a.user or not at.get("r"):
                return "fail", "client-first %r" % self.bare
            cn = at["r"]
            self.salt = b"saslpeer-salt-16"
            it = {"scram-i0": 0, "scram-ihuge": 99999999999}.get(sc, 4096)
            self.iters = 4096
            nonce = cn + "SRVnonce+0123456789"
            if sc == "scram-nonce":
                nonce = "Xattacker" + "SRVnonce+0123456789"
            self.nonce = nonce
            self.sfirst = "r=%s,s=%s,i=%d" % (
                nonce, base64.b64encode(self.salt).decode(), it)
            self.stage = 1
            return "chal", self.sfirst.encode()
        if self.stage == 1:
            try:
                at = scram_attrs(s)
            except ValueError as e:
                return "fail", str(e)
            if len(at) < 3 or at[0][0] != "c" or at[1][0] != "r" or \
                    at[-1][0] != "p":
                return "fail", "client-final %r" % s
            if base64.b64decode(at[0][1]) != self.gs2.encode():
                return "fail", "c= is not the GS2 header"
            if at[1][1] != self.nonce:
                return "fail", "client-final nonce differs"
            without = s[:s.rindex(",p=")]
            am = ",".join((self.bare, self.sfirst, without)).encode()
            ck, stored, sk = scram_keys(self.h, self.p.a.password,
                                        self.salt, self.iters)
            sig = hmac.new(stored, am, self.h).digest()
            proof = bytes(a ^ b for a, b in zip(ck, sig))
            try:
                got = base64.b64decode(at[-1][1], validate=True)
            except binascii.Error:
                return "fail", "p= not base64"
            if not hmac.compare_digest(proof, got):
                return "fail", "SCRAM proof mismatch"
            self.log("SCRAM client proof verified")
            if sc == "scram-nov":
                return "ok", None
            ssig = hmac.new(sk, am, self.h).digest()
            if sc == "scram-badv":
                ssig = bytes([ssig[0] ^ 0x55]) + ssig[1:]
            self.stage = 2
            return "chal", b"v=" + base64.b64encode(ssig)
        if data != b"":
            return "fail", "non-empty answer to server-final"
        return "ok", None


MECHS = {"CRAM-MD5": CramMD5, "NTLM": Ntlm, "OTP": Otp,
         "SCRAM-SHA-1": Scram, "SCRAM-SHA-256": Scram}


# ------------------------------------------------------------ the server

def gen_message(i):
    return peerline.gen_message("saslpeer", i)


class Peer(LinePeer):
    def __init__(self, a):
        super().__init__(a)
        self.mailbox = [(i, gen_message(i)) for i in range(1, a.messages + 1)]
        self.conns = self.retrieved = self.committed = 0
        self.auth_ok = self.auth_fail = self.cancels = 0
        self.mechs_used = []
        self.otp_seq = a.otp_seq
        self.otp_stored = otp_md5(a.otp_pass, a.otp_seed, a.otp_seq + 1) \
            if a.otp_pass else None

    def proto(self):
        return self.a.proto

    def session(self):
        return self.pop3() if self.a.proto == "pop3" else self.imap()

    def state_text(self):
        return ("conns %d\nmessages %d\nretrieved %d\ncommitted %d\n"
              "otp_seq %d\nauth_ok %d\nauth_fail %d\ncancels %d\n"
              "mechs %s\n" % (
                  self.conns, len(self.mailbox), self.retrieved,
                  self.committed, self.otp_seq, self.auth_ok,
                  self.auth_fail, self.cancels, ",".join(self.mechs_used)))

    # -------------------------------------------------- line I/O
    def send_bytes(self, data, note):
        self.write("S: " + note)
        self.sock.sendall(data)

    # -------------------------------------------------- SASL driver
    def sasl(self, mech, ir, cont, ok, no, cancelled):
        """Run one exchange; cont(text) sends a challenge, ok()/no(why)
        the verdict, cancelled() the answer to "*".  True if logged in."""
        self.ev("AUTH-START %s" % mech)
        self.mechs_used.append(mech)
        cls = MECHS.get(mech.upper())
        if cls is None or mech.upper() not in self.offered():
            self.ev("AUTH-FAIL %s not offered" % mech)
            self.auth_fail += 1
            no("mechanism not offered")
            return False
        m = cls(self, mech.upper())
        if ir is not None:
            if ir == "=":
                ir_b = b""
            else:
                try:
                    ir_b = base64.b64decode(ir, validate=True)
                except (binascii.Error, ValueError):
                    self.ev("AUTH-FAIL %s initial response not base64" % mech)
                    self.auth_fail += 1
                    no("bad base64")
                    return False
            act = m.first(ir_b)
        else:
            act = m.first(None)
        b64_spoiled = False
        while True:
            kind, val = act
            if kind in ("chal", "raw"):
                if kind == "chal" and self.a.scenario == "b64" and val and \
                        not b64_spoiled:
                    b64_spoiled = True
                    kind, val = "raw", "@@not*base64@@"
                cont(val if kind == "raw" else
                     base64.b64encode(val).decode())
                line = self.readline()
                if line.strip() == "*":
                    self.cancels += 1
                    self.ev("CANCEL %s" % mech)
                    if self.a.ok_after_cancel:
                        self.ev("LYING: answering the cancel with OK")
                        ok()
                        return True
                    cancelled()
                    return False
                try:
                    data = base64.b64decode(line.strip(), validate=True)
                except (binascii.Error, ValueError):
                    self.ev("AUTH-FAIL %s response not base64" % mech)
                    self.auth_fail += 1
                    no("bad base64")
                    return False
                act = m.step(data)
                continue
            if kind == "ok" and mech.upper() in self.refused():
                kind, val = "fail", "refused by --refuse"
            if kind == "ok":
                self.ev("AUTH-OK %s" % mech)
                self.auth_ok += 1
                ok()
                return True
            self.ev("AUTH-FAIL %s %s" % (mech, val))
            self.auth_fail += 1
            no(val)
            return False

    def offered(self):
        return [m.upper() for m in self.a.mechs.split()]

    def refused(self):
        return [m.upper() for m in (self.a.refuse or "").split()]

    # -------------------------------------------------- POP3
    def pop3(self):
        authed = False
        marked = set()
        self.send("+OK saslpeer POP3 ready\r\n")
        while True:
            line = self.readline()
            cmd, _, arg = line.partition(" ")
            cmd = cmd.upper()
            if cmd == "QUIT":
                if authed and marked:
                    n = len(marked)
                    self.mailbox = [m for m in self.mailbox
                                    if m[0] not in marked]
                    self.committed += n
                    self.ev("COMMIT %d" % n)
                self.send("+OK bye\r\n")
                return
            if cmd == "CAPA":
                caps = ["TOP", "UIDL", "USER"]
                if self.a.mechs:
                    caps.append("SASL " + self.a.mechs)
                self.send("+OK capabilities\r\n" + "".join(
                    c + "\r\n" for c in caps) + ".\r\n")
                continue
            if cmd == "NOOP":
                self.send("+OK\r\n")
                continue
            if not authed:
                if cmd == "AUTH" and arg:
                    mech, _, ir = arg.partition(" ")
                    authed = self.sasl(
                        mech, ir or None,
                        lambda t: self.send("+ %s\r\n" % t),
                        lambda: self.send("+OK logged in\r\n"),
                        lambda why: self.send("-ERR [AUTH] %s\r\n" % why),
                        lambda: self.send("-ERR AUTH cancelled\r\n"))
                elif cmd == "USER":
                    self.ev("CLEARTEXT USER %s" % arg)
                    self.send("+OK\r\n")
                elif cmd == "PASS":
                    self.ev("CLEARTEXT PASS")
                    self.send("-ERR [AUTH] cleartext refused here\r\n")
                elif cmd == "AUTH":
                    self.send("+OK\r\n" + "".join(
                        m + "\r\n" for m in self.offered()) + ".\r\n")
                else:
                    self.send("-ERR not logged in\r\n")
                continue
            box = [m for m in self.mailbox]
            if cmd == "STAT":
                self.send("+OK %d %d\r\n" % (len(box), sum(
                    len(d) for _, d in box)))
            elif cmd in ("LIST", "UIDL"):
                def item(i, m):
                    return "%d %s" % (i, len(m[1]) if cmd == "LIST"
                                      else "uid%04d" % m[0])
                if arg:
                    try:
                        i = int(arg)
                        self.send("+OK %s\r\n" % item(i, box[i - 1]))
                    except (ValueError, IndexError):
                        self.send("-ERR no such message\r\n")
                else:
                    self.send("+OK\r\n" + "".join(
                        item(i, m) + "\r\n" for i, m in
                        enumerate(box, 1)) + ".\r\n")
            elif cmd in ("RETR", "TOP"):
                try:
                    i = int(arg.split()[0])
                    data = box[i - 1][1]
                except (ValueError, IndexError):
                    self.send("-ERR no such message\r\n")
                    continue
                if cmd == "TOP":
                    n = int(arg.split()[1]) if len(arg.split()) > 1 else 0
                    head, _, body = data.partition(b"\r\n\r\n")
                    data = head + b"\r\n\r\n" + b"".join(
                        ln + b"\r\n" for ln in body.split(b"\r\n")[:n]
                        if ln)
                else:
                    self.retrieved += 1
                    self.ev("RETR %d" % i)
                stuffed = re.sub(rb"(?m)^\.", b"..", data)
                self.send_bytes(b"+OK message follows\r\n" + stuffed +
                                b".\r\n", "+OK message follows (%d octets)"
                                % len(data))
            elif cmd == "DELE":
                try:
                    i = int(arg)
                    marked.add(box[i - 1][0])
                    self.ev("DELE %d" % i)
                    self.send("+OK marked\r\n")
                except (ValueError, IndexError):
                    self.send("-ERR no such message\r\n")
            elif cmd == "RSET":
                marked.clear()
                self.send("+OK\r\n")
            elif cmd == "LAST":
                self.send("+OK 0\r\n")
            else:
                self.send("-ERR unknown command\r\n")

    # -------------------------------------------------- IMAP
    def caps(self):
        c = "IMAP4rev1 UIDPLUS LITERAL+"
        if self.a.sasl_ir:
            c += " SASL-IR"
        for m in self.a.mechs.split():
            c += " AUTH=" + m
        return c

    def imap(self):
        authed = False
        selected = None
        flags = {}
        self.send("* OK saslpeer IMAP ready\r\n")
        while True:
            line = self.readline()
            tag, _, rest = line.partition(" ")
            cmd, _, rest = rest.partition(" ")
            cmd = cmd.upper()
            if cmd == "UID":
                sub, _, rest = rest.partition(" ")
                cmd = "UID " + sub.upper()
            args = imap_words(rest)
            ok = "%s OK %s completed\r\n" % (tag, cmd)
            if cmd == "LOGOUT":
                self.send("* BYE saslpeer logging out\r\n" + ok)
                return
            if cmd == "CAPABILITY":
                self.send("* CAPABILITY %s\r\n" % self.caps() + ok)
                continue
            if cmd == "NOOP":
                self.send(ok)
                continue
            if not authed:
                if cmd == "AUTHENTICATE" and args:
                    mech = args[0]
                    ir = args[1] if len(args) > 1 else None
                    if ir is not None and not self.a.sasl_ir:
                        self.send("%s BAD SASL-IR not offered\r\n" % tag)
                        continue
                    authed = self.sasl(
                        mech, ir, lambda t: self.send("+ %s\r\n" % t),
                        lambda: self.send("%s OK [CAPABILITY %s] logged in"
                                          "\r\n" % (tag, self.caps())),
                        lambda why: self.send(
                            "%s NO [AUTHENTICATIONFAILED] %s\r\n" % (
                                tag, why)),
                        lambda: self.send(
                            "%s BAD AUTHENTICATE cancelled\r\n" % tag))
                elif cmd == "LOGIN":
                    self.ev("CLEARTEXT LOGIN")
                    self.send("%s NO [AUTHENTICATIONFAILED] cleartext "
                              "refused here\r\n" % tag)
                else:
                    self.send("%s NO not authenticated\r\n" % tag)
                continue
            if cmd in ("SELECT", "EXAMINE"):
                selected = list(self.mailbox)
                nxt = max([m[0] for m in self.mailbox] + [0]) + 1
                self.send("* FLAGS (\\Seen \\Deleted)\r\n* %d EXISTS\r\n"
                          "* 0 RECENT\r\n* OK [UIDVALIDITY 7] ok\r\n"
                          "* OK [UIDNEXT %d] ok\r\n%s OK [READ-%s] done\r\n"
                          % (len(selected), nxt, tag, "ONLY" if
                             cmd == "EXAMINE" else "WRITE"))
                continue
            if selected is None:
                self.send("%s BAD no mailbox selected\r\n" % tag)
                continue
            seq = {m[0]: (i, m) for i, m in enumerate(selected, 1)}
            top = max(seq) if seq else 0
            if cmd in ("UID FETCH", "FETCH") and len(args) >= 2:
                if cmd == "FETCH":
                    uids = {selected[n - 1][0] for n in
                            imap_set(args[0], len(selected))
                            if 0 < n <= len(selected)}
                else:
                    uids = imap_set(args[0], top)
                items = args[1].upper()
                for u in sorted(uids):
                    if u not in seq:
                        continue
                    i, m = seq[u]
                    fl = " ".join(sorted(flags.get(u, ())))
                    if "BODY" in items or "RFC822" == items.strip("()"):
                        if "PEEK" not in items:
                            flags.setdefault(u, set()).add("\\Seen")
                        self.retrieved += 1
                        self.ev("RETR %d" % u)
                        self.send_bytes(("* %d FETCH (UID %d BODY[] {%d}\r\n"
                                         % (i, u, len(m[1]))).encode() +
                                        m[1] + b")\r\n",
                                        "* %d FETCH (UID %d BODY[] {%d}"
                                        % (i, u, len(m[1])))
                    else:
                        self.send("* %d FETCH (UID %d RFC822.SIZE %d "
                                  "FLAGS (%s))\r\n" % (i, u, len(m[1]), fl))
                self.send(ok)
            elif cmd in ("UID STORE", "STORE") and len(args) >= 3:
                if cmd == "STORE":
                    uids = {selected[n - 1][0] for n in
                            imap_set(args[0], len(selected))
                            if 0 < n <= len(selected)}
                else:
                    uids = imap_set(args[0], top)
                new = set(args[2].strip("()").split())
                for u in uids:
                    if u not in seq:
                        continue
                    fl = flags.setdefault(u, set())
                    if args[1].startswith("+"):
                        if "\\Deleted" in new and "\\Deleted" not in fl:
                            self.ev("DELE %d" % u)
                        fl |= new
                    elif args[1].startswith("-"):
                        fl -= new
                    else:
                        fl.clear()
                        fl |= new
                self.send(ok)
            elif cmd in ("EXPUNGE", "UID EXPUNGE", "CLOSE"):
                which = imap_set(args[0], top) if cmd == "UID EXPUNGE" \
                    and args else set(seq)
                gone = [(i, m) for u, (i, m) in sorted(seq.items())
                        if u in which and "\\Deleted" in flags.get(u, ())]
                ids = {m[0] for _, m in gone}
                if gone:
                    self.mailbox = [m for m in self.mailbox
                                    if m[0] not in ids]
                    self.committed += len(gone)
                    self.ev("COMMIT %d" % len(gone))
                selected = [m for m in selected if m[0] not in ids]
                out = "" if cmd == "CLOSE" else "".join(
                    "* %d EXPUNGE\r\n" % i for i, _ in reversed(gone))
                if cmd == "CLOSE":
                    selected = None
                self.send(out + ok)
            else:
                self.send("%s BAD unknown command\r\n" % tag)


def imap_words(s):
    out, i, n = [], 0, len(s)
    while i < n:
        if s[i] == " ":
            i += 1
        elif s[i] == '"':
            j, w = i + 1, ""
            while j < n and s[j] != '"':
                if s[j] == "\\" and j + 1 < n:
                    j += 1
                w += s[j]
                j += 1
            out.append(w)
            i = j + 1
        elif s[i] == "(":
            depth, j = 0, i
            while j < n:
                depth += {"(": 1, ")": -1}.get(s[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append(s[i:j])
            i = j
        else:
            j = s.find(" ", i)
            j = n if j < 0 else j
            out.append(s[i:j])
            i = j
    return out


def imap_set(spec, top):
    res = set()
    for part in spec.split(","):
        a, _, b = part.partition(":")
        try:
            lo = top if a == "*" else int(a)
            hi = lo if not b else (top if b == "*" else int(b))
        except ValueError:
            continue
        res.update(range(min(lo, hi), max(lo, hi) + 1))
    return res


# ------------------------------------------------------------ self-test

def selftest():
    bad = []

    def check(cond, what):
        print("%s - %s" % ("ok" if cond else "NOT OK", what))
        if not cond:
            bad.append(what)

    # RFC 1320 appendix A.5
    for msg, hexd in (
            (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
            (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
            (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
            (b"message digest", "d9130a8164549fe818874806e1c7014b"),
            (b"abcdefghijklmnopqrstuvwxyz",
             "d79e1c308aa5bbcdeea8ed63df412da9"),
            (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
             b"0123456789", "043f8582f241db351ce627e153e7f0e4"),
            (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536")):
        check(md4(msg).hex() == hexd, "MD4(%r)" % msg[:20])
    # RFC 2289 appendix C (MD5)
    for pw, seed, cnt, hexd, words in (
            ("This is a test.", "TeSt", 0, "9e876134d90499dd",
             "INCH SEA ANNE LONG AHEM TOUR"),
            ("This is a test.", "TeSt", 1, "7965e05436f5029f",
             "EASE OIL FUM CURE AWRY AVIS"),
            ("This is a test.", "TeSt", 99, "50fe1962c4965880",
             "BAIL TUFT BITS GANG CHEF THY"),
            ("AbCdEfGhIjK", "alpha1", 0, "87066dd9644bf206",
             "FULL PEW DOWN ONCE MORT ARC"),
            ("AbCdEfGhIjK", "alpha1", 1, "7cd34c1040add14b",
             "FACT HOOF AT FIST SITE KENT"),
            ("AbCdEfGhIjK", "alpha1", 99, "5aa37a81f212146c",
             "BODE HOP JAKE STOW JUT RAP"),
            ("OTP's are good", "correct", 0, "f205753943de4cf9",
             "ULAN NEW ARMY FUSE SUIT EYED"),
            ("OTP's are good", "correct", 1, "ddcdac956f234937",
             "SKIM CULT LOB SLAM POE HOWL"),
            ("OTP's are good", "correct", 99, "b203e28fa525be47",
             "LONG IVY JULY AJAR BOND LEE")):
        k = otp_md5(pw, seed, cnt)
        check(k.hex() == hexd, "OTP md5 %r %s %d" % (pw, seed, cnt))
        check(otp_to_words(k) == words, "six words %s" % words)
        check(otp_from_words(words.lower()) == k, "decode %s" % words)
    check(len(OTP_WORDS) == 2048 and len(_WORD_INDEX) == 2048,
          "dictionary has 2048 distinct words")
    check(OTP_WORDS[:571] == sorted(OTP_WORDS[:571]) and
          OTP_WORDS[571:] == sorted(OTP_WORDS[571:]) and
          all(len(w) <= 3 for w in OTP_WORDS[:571]) and
          all(len(w) == 4 for w in OTP_WORDS[571:]),
          "dictionary: 571 short words then 1477 four-letter, sorted")
    w = otp_to_words(bytes(8)).split()
    w[0] = OTP_WORDS[(_WORD_INDEX[w[0]] + 1) % 2048]
    check(otp_from_words(" ".join(w)) is None, "checksum catches a change")
    # MS-NLMP 4.2.4 (NTLMv2)
    key = ntowfv2("User", "Domain", "Password")
    check(key.hex() == "0c868a403bfd7a93a3001ef22ef02e3f", "NTOWFv2")
    tinfo = av_pairs([(2, "Domain".encode("utf-16-le")),
                      (1, "Server".encode("utf-16-le"))])
    temp = b"\x01\x01" + b"\0" * 6 + b"\0" * 8 + b"\xaa" * 8 + b"\0" * 4 + \
        tinfo + b"\0" * 4
    proof = hmac.new(key, bytes.fromhex("0123456789abcdef") + temp,
                     hashlib.md5).digest()
    check(proof.hex() == "68cd0ab851e51c96aabc927bebef6a1c", "NTProofStr")
    # RFC 7677 section 3 (SCRAM-SHA-256)
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    ck, stored, sk = scram_keys("sha256", "pencil", salt, 4096)
    am = ("n=user,r=rOprNGfwEbeRWgbNEkqO,"
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
          "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
          "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
          ).encode()
    sig = hmac.new(stored, am, "sha256").digest()
    p = base64.b64encode(bytes(a ^ b for a, b in zip(ck, sig))).decode()
    check(p == "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
          "SCRAM-SHA-256 client proof")
    v = base64.b64encode(hmac.new(sk, am, "sha256").digest()).decode()
    check(v == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
          "SCRAM-SHA-256 server signature")
    # the Type 2 messages parse as intended
    t2 = ntlm_type2("ok")
    check(_secbuf(t2, 40)[-4:] == b"\0\0\0\0", "type 2 target info ends "
          "with MsvAvEOL")
    for sc in ("ntlm-badoff", "ntlm-badname"):
        t2 = ntlm_type2(sc)
        try:
            _secbuf(t2, 40 if sc == "ntlm-badoff" else 12)
            check(False, "%s is out of range" % sc)
        except ValueError:
            check(True, "%s is out of range" % sc)
    print("%d failed" % len(bad))
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="scripted SASL POP3/IMAP peer")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--proto", choices=("pop3", "imap"), required=True)
    s.add_argument("--dir", required=True)
    s.add_argument("--user", default="alice")
    s.add_argument("--password", default="")
    s.add_argument("--mechs", default="")
    s.add_argument("--sasl-ir", action="store_true")
    s.add_argument("--ntlm-domain", default=None)
    s.add_argument("--otp-pass", default=None)
    s.add_argument("--otp-seq", type=int, default=99)
    s.add_argument("--otp-seed", default="saslpeer1")
    s.add_argument("--refuse", default=None)
    s.add_argument("--messages", type=int, default=1)
    s.add_argument("--ok-after-cancel", action="store_true")
    s.add_argument("--scenario", default="ok", choices=(
        "ok", "scram-badv", "scram-nov", "b64", "scram-nonce", "scram-i0",
        "scram-ihuge", "ntlm-badoff", "ntlm-badname", "otp-badalg"))
    s.add_argument("--parent-pid", type=int, default=0)
    s.add_argument("--timeout", type=float, default=30)
    sub.add_parser("selftest")
    a = ap.parse_args(argv)
    if a.cmd == "selftest":
        return selftest()
    os.makedirs(a.dir, exist_ok=True)
    Peer(a).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
