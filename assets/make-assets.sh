#!/usr/bin/env bash
# Regenerates every file under assets/ with ffmpeg and espeak-ng (no ImageMagick, no Python).
# Run from anywhere:  bash assets/make-assets.sh
# Needs: ffmpeg (with libmp3lame, drawtext/freetype), espeak-ng, the DejaVu fonts.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p characters broll audio

FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
S=2   # draw at 2x, then scale down with area averaging: cheap anti-aliasing

# --- a tiny shape language for geq -------------------------------------------------------------
# Coordinates below are in output pixels; XX/YY map the supersampled canvas back to them.
XX="(X/$S)"
YY="(Y/$S)"
circle()  { echo "lte(hypot($XX-$1,$YY-$2),$3)"; }                                  # cx cy r
ellipse() { echo "lte(pow(($XX-$1)/$3,2)+pow(($YY-$2)/$4,2),1)"; }                  # cx cy rx ry
rect()    { echo "between($XX,$1,$3)*between($YY,$2,$4)"; }                         # x0 y0 x1 y1
rrect() {                                                                           # x0 y0 x1 y1 radius
  local cx=$(( ($1 + $3) / 2 )) cy=$(( ($2 + $4) / 2 )) hw=$(( ($3 - $1) / 2 - $5 )) hh=$(( ($4 - $2) / 2 - $5 ))
  echo "lte(hypot(max(abs($XX-$cx)-$hw,0),max(abs($YY-$cy)-$hh,0)),$5)"
}
bg()    { R=$1; G=$2; B=$3; }
paint() { R="if($1,$2,$R)"; G="if($1,$3,$G)"; B="if($1,$4,$B)"; }                  # later = on top
render() {                                                                          # w h out [extra filters]
  ffmpeg -v error -y -f lavfi -i "color=c=black:s=$(( $1 * S ))x$(( $2 * S )):d=1,format=rgb24" \
    -vf "geq=r='$R':g='$G':b='$B',scale=$1:$2:flags=area${4:+,$4},format=rgb24" \
    -frames:v 1 -compression_level 9 -pred mixed "$3"
}

# --- ninja: dark-blue hooded head, red headband, black visor with two cyan LED eyes -----------
bg 222 232 242
paint "$(ellipse 384 800 300 190)" 22 30 64                                          # shoulders
paint "between($XX,600,748)*lte(abs($YY-(150+0.55*($XX-600))),13)" 214 44 56          # headband tails
paint "between($XX,600,716)*lte(abs($YY-(170+1.1*($XX-600))),12)" 190 36 48
paint "$(circle 384 360 290)" 34 52 120                                             # head
paint "$(circle 384 360 290)*lte(abs($YY-(478+0.35*abs($XX-384))),4)" 24 38 94        # mask fold
paint "$(circle 384 360 290)*between($YY,118,170)" 214 44 56                         # headband
paint "$(rrect 334 114 434 174 10)" 196 204 216                                      # forehead plate
paint "$(rrect 370 130 398 158 4)" 120 130 150
paint "$(rrect 150 250 618 440 60)" 14 18 34                                        # visor
paint "between($XX,225,345)*lte(abs($YY-(270+0.006*pow($XX-285,2))),6)" 70 235 255    # LED brows
paint "between($XX,423,543)*lte(abs($YY-(270+0.006*pow($XX-483,2))),6)" 70 235 255
paint "$(ellipse 285 350 62 44)" 70 235 255                                         # LED eyes
paint "$(ellipse 483 350 62 44)" 70 235 255
paint "$(ellipse 285 352 38 24)" 200 250 255
paint "$(ellipse 483 352 38 24)" 200 250 255
paint "$(circle 306 336 9)" 255 255 255
paint "$(circle 504 336 9)" 255 255 255
render 768 768 characters/ninja.png

# --- glitch: purple robot head with a dark screen face, green pixel eyes and smile -----------
bg 224 244 232
paint "$(rrect 140 720 628 900 80)" 80 40 120                                       # shoulders
paint "$(rect 300 650 468 740)" 100 100 120                                         # neck
paint "$(rect 376 40 392 130)" 120 120 140                                          # antenna
paint "$(circle 384 44 26)" 70 230 120
paint "$(rrect 62 300 112 460 14)" 70 200 120                                       # ear bolts
paint "$(rrect 656 300 706 460 14)" 70 200 120
paint "$(rrect 96 110 672 670 90)" 122 64 178                                       # head
paint "$(circle 150 160 12)+$(circle 618 160 12)+$(circle 150 620 12)+$(circle 618 620 12)" 180 140 220
paint "$(rrect 160 180 608 570 56)" 18 22 32                                        # screen
paint "$(rrect 160 180 608 570 56)*lt(mod($YY,14),3)" 28 34 48                      # scanlines
paint "$(rect 236 270 326 360)" 80 245 140                                          # pixel eyes
paint "$(rect 442 270 532 360)" 80 245 140
paint "$(rect 262 296 300 334)" 18 22 32
paint "$(rect 468 296 506 334)" 18 22 32
paint "$(rect 430 300 590 308)" 60 220 250                                          # glitch streaks
paint "$(rect 180 392 330 402)" 240 60 200
paint "$(rect 292 452 476 478)" 80 245 140                                          # pixel smile
paint "$(rect 266 428 292 456)" 80 245 140
paint "$(rect 476 428 502 456)" 80 245 140
paint "$(rect 200 418 232 440)+$(rect 536 418 568 440)" 250 120 190                 # cheeks
render 768 768 characters/glitch.png

# --- news desk background, 1280x720 ----------------------------------------------------------
bg 24 32 68
paint "lt(mod($XX,160),4)" 34 44 88                                                 # wall panels
paint "$(rrect 340 60 940 400 18)" 0 200 230                                        # wall screen
paint "$(rect 354 74 926 386)" 16 60 110
paint "$(rect 354 74 926 386)*gt($YY,386-(50+90*abs(sin(floor($XX/38)*1.7))))" 10 34 66   # skyline
paint "lte(abs($XX-640),470+($YY-470)*0.5)*gte($YY,470)" 58 64 92                   # desk
paint "lte(abs($XX-640),470+($YY-470)*0.5)*between($YY,470,492)" 200 40 60          # desk edge
paint "$(rrect 500 540 780 660 14)" 0 200 230                                       # desk logo panel
paint "$(rrect 508 548 772 652 10)" 16 24 52
render 1280 720 broll/desk.png \
  "drawtext=fontfile=$FONT:text='NINJA NEWS':fontsize=72:fontcolor=white:x=(w-tw)/2:y=150,drawtext=fontfile=$FONT:text='GAMING • TECH • CULTURE':fontsize=26:fontcolor=0x7fe9ff:x=(w-tw)/2:y=245,drawtext=fontfile=$FONT:text='NN':fontsize=64:fontcolor=0x46ebff:x=(w-tw)/2:y=566"

# --- speech: espeak-ng -> MP3 mono 24 kHz 40 kbps ---------------------------------------------
# say FILE VOICE SPEED PITCH TEXT
say() {
  espeak-ng -v "$2" -s "$3" -p "$4" -g 2 -w "audio/$1.wav" "$5"
  ffmpeg -v error -y -i "audio/$1.wav" -af "highpass=f=80,loudnorm=I=-18:TP=-2" \
    -ac 1 -ar 24000 -c:a libmp3lame -b:a 40k -map_metadata -1 "audio/$1.mp3"
  rm "audio/$1.wav"
}
NINJA=en-us+m3
GLITCH=en-us+f3
say cold-open       $NINJA  165 45 "Breaking news from the gaming world! Welcome back to Ninja News. I'm the Ninja, and today's show is packed."
say glitch-reply    $GLITCH 180 70 "And I'm Glitch! My circuits are buzzing already. Hit me with the big one!"
say headline        $NINJA  165 45 "Today's headline: a tiny indie studio just passed one million players in its very first weekend."
say glitch-reaction $GLITCH 170 70 "One million? In one weekend? That is a brand new high score for a team of five!"
say sign-off        $NINJA  165 45 "That's all for today. Stay stealthy, stay curious, and I'll see you next time on Ninja News!"
say deep-dive       $NINJA  160 45 "So how did they do it? The team shipped a free demo six months early, listened to every player report, and fixed the top ten complaints before launch. Then streamers found it, and word of mouth did the rest."
say short-hook      $NINJA  170 45 "One indie game. One weekend. One million players. Here is how a team of five pulled it off."
